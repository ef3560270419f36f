"""Who a role's trust lets in with a web identity token (an OIDC provider's), and how tightly. Pure.

    web_identities(trust_document) -> [WebIdentity(provider, sub, aud, exact, missing)]

A statement lets a web identity in when it allows and its `Federated` principal is an OIDC
provider (arn:...:oidc-provider/<host>) or a provider's name (accounts.google.com,
cognito-identity.amazonaws.com); SAML providers are not web identities. What it requires of the
token is read from its conditions on `<host>:sub` and `<host>:aud` (condition keys are
case-insensitive). Operators that hold when the key is absent (`...IfExists`, `ForAllValues:`)
and negated ones (`StringNotEquals`) pin nothing. Conditions are ANDed, so one operator whose
values hold no wildcard pins `sub` exactly, whatever the others say; a `...Like` operator with
`*` or `?` in a value is a wildcard. Used by `access who-can-assume` and the audit's IL-11.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WebIdentity:
    """One trust statement's web identities: the provider, the `sub` and `aud` values it accepts
    (every value any operator names), whether `sub` is pinned to exact values, and which of
    `sub`/`aud` it does not require at all."""

    provider: str
    sub: tuple[str, ...]
    aud: tuple[str, ...]
    exact: bool
    missing: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "sub": list(self.sub),
            "aud": list(self.aud),
            "exact": self.exact,
            "missing": list(self.missing),
        }


def _pinned(condition: Mapping[str, Any], key: str) -> list[tuple[list[str], bool]]:
    """Per operator that requires `key`: its values (any one matches), and whether one is a wildcard."""
    out: list[tuple[list[str], bool]] = []
    for operator, block in condition.items():
        op = str(operator)
        skip = "Not" in op or op.endswith("IfExists") or op.startswith("ForAllValues:") or "String" not in op
        if skip or not isinstance(block, Mapping):
            continue
        for k, v in block.items():
            if str(k).lower() == key.lower():
                values = [str(x) for x in (v if isinstance(v, list) else [v])]
                out.append((values, "Like" in op and any("*" in x or "?" in x for x in values)))
    return out


def web_identities(trust: Mapping[str, Any] | None) -> list[WebIdentity]:
    """The web identities each Allow statement of `trust` lets in (see the module docstring)."""
    out: list[WebIdentity] = []
    statements: Any = (trust or {}).get("Statement") or []
    for st in [statements] if isinstance(statements, Mapping) else statements:
        if not isinstance(st, Mapping) or st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        fed = principal.get("Federated") if isinstance(principal, Mapping) else None
        cond = st.get("Condition")
        condition: Mapping[str, Any] = cond if isinstance(cond, Mapping) else {}
        for name in [fed] if isinstance(fed, str) else fed or []:
            name = str(name)
            if ":saml-provider/" in name:
                continue
            host = name.split(":oidc-provider/", 1)[1] if ":oidc-provider/" in name else name
            sub, aud = _pinned(condition, f"{host}:sub"), _pinned(condition, f"{host}:aud")
            out.append(
                WebIdentity(
                    provider=host,
                    sub=tuple(sorted({v for values, _ in sub for v in values})),
                    aud=tuple(sorted({v for values, _ in aud for v in values})),
                    exact=any(not wild for _, wild in sub),
                    missing=tuple(k for k, v in (("sub", sub), ("aud", aud)) if not v),
                )
            )
    return out
