"""Policy documents compiled for evaluation, and whether one statement applies to a request.

A statement applies when its action, principal (resource-based policies only), resource and
conditions all match ("IAM JSON policy elements"):
- Action/NotAction: case-insensitive wildcards (`iam:*`, `iam:Get?ser`, `*`).
- Resource/NotResource: ARN wildcards, policy variables (see `iamlayer.access.patterns`); a
  statement without either (a trust policy's) covers the resource it is attached to.
- Principal/NotPrincipal: `"*"` and `{"AWS": "*"}` (anyone); an account id or
  `arn:aws:iam::<id>:root` (any principal of that account, which then needs its own identity
  policy to allow: the account delegates to its IAM policies); a user ARN; a role ARN (its
  sessions); a role-session ARN; `Service` and `Federated` names. Principals allow no partial
  wildcards.
- Condition: every operator and key holds (see `iamlayer.access.conditions`).

- NotResource (or a negated condition operator) with a policy variable that has no value makes
  the statement invalid: it never applies, as an Allow or as a Deny (IAM "Policy variables").
- NotPrincipal in a Deny: "always denies principals that have a permissions boundary attached,
  regardless of the values specified in the NotPrincipal element" (IAM "NotPrincipal").

Documents are compiled once per distinct text and cached, so the same group policy shared by
200 people is parsed once. A request whose resource is `*` is, by default (ResourceMode.LITERAL),
what AWS receives for an action without resource-level permissions: each Resource or
NotResource pattern is matched against the string `*` (so `Resource: "*"` covers it, an ARN does
not, and `NotResource: <an ARN>` covers it). The spec's checks ask quantified questions
instead: with ResourceMode.ALL a statement counts only if it covers every resource (an Allow on
`*`), with ResourceMode.ANY if it covers some (any resource pattern).

In an open request context, a statement whose conditions (or resource variables) read a key
whose value is not known neither applies nor misses: its StatementMatch names those keys
(`StatementMatch.maybe`), and the evaluator answers both ways.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from functools import lru_cache
from typing import Any

from iamlayer.access.conditions import Condition, compile_conditions
from iamlayer.access.context import Caller, CallerKind, RequestContext
from iamlayer.access.patterns import Pattern

VARIABLES_VERSION = "2012-10-17"
EVERY_RESOURCE = "*"


class ResourceMode(StrEnum):
    """What a request on resource `*` asks (see the module docstring)."""

    ALL = "all"  # on every resource
    ANY = "any"  # on some resource
    LITERAL = "literal"  # on `*` itself: an action without resource-level permissions


class PrincipalLevel(StrEnum):
    """How a resource-based policy's Principal matched the caller."""

    ANYONE = "anyone"  # "*": a grant to every caller, as if each were named
    ACCOUNT = "account"  # the caller's account: the account's IAM policies must allow too
    DIRECT = "direct"  # the caller (or, for a session, its role) by ARN


class Miss(Enum):
    """Why a statement does not apply."""

    ACTION = "action"
    PRINCIPAL = "principal"
    RESOURCE = "resource"
    CONDITION = "condition"


@dataclass(frozen=True)
class StatementMatch:
    """A statement against a request: it applies (`miss` is None) or why not."""

    miss: Miss | None
    level: PrincipalLevel | None = None  # for resource-based statements that apply
    detail: str = ""  # what failed, in words (for `maybe`: what it depends on)
    unknown: tuple[str, ...] = ()  # with miss None: it applies only if these keys allow it

    @property
    def applies(self) -> bool:
        return self.miss is None and not self.unknown

    @property
    def maybe(self) -> bool:
        """Whether it applies depends on context keys whose value is not known."""
        return self.miss is None and bool(self.unknown)


@dataclass(frozen=True)
class PrincipalSpec:
    """A Principal (or NotPrincipal) element."""

    anyone: bool = False
    aws: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: Any) -> PrincipalSpec:
        if value == "*":
            return cls(anyone=True)
        if not isinstance(value, Mapping):
            return cls()

        def items(key: str) -> tuple[str, ...]:
            raw = value.get(key, ())
            return tuple(str(v) for v in ([raw] if isinstance(raw, str) else raw))

        aws = items("AWS")
        return cls(
            anyone="*" in aws,
            aws=tuple(a for a in aws if a != "*"),
            services=items("Service"),
            federated=items("Federated"),
        )

    def match(self, caller: Caller) -> PrincipalLevel | None:
        """How this element names `caller`, or None when it does not."""
        if self.anyone:
            return PrincipalLevel.ANYONE
        best: PrincipalLevel | None = None
        if caller.kind is CallerKind.SERVICE:
            return PrincipalLevel.DIRECT if caller.arn.lower() in {s.lower() for s in self.services} else None
        if caller.kind is CallerKind.FEDERATED:
            return PrincipalLevel.DIRECT if caller.arn in self.federated else None
        for entry in self.aws:
            if entry == caller.arn or (caller.role_arn is not None and entry == caller.role_arn):
                return PrincipalLevel.DIRECT
            if caller.account is not None and entry in (
                caller.account,
                f"arn:aws:iam::{caller.account}:root",
            ):
                best = PrincipalLevel.ACCOUNT
        return best

    def describe(self) -> str:
        parts = ["*"] if self.anyone else []
        parts += list(self.aws) + list(self.services) + list(self.federated)
        return ", ".join(parts) or "nobody"


@dataclass(frozen=True)
class Statement:
    """One compiled statement; `index` is its position in the document (0-based)."""

    index: int
    sid: str | None
    effect: str  # "Allow" or "Deny"
    actions: tuple[Pattern, ...]
    not_action: bool
    resources: tuple[Pattern, ...] | None  # None: the statement names no resource (trust policies)
    not_resource: bool
    principal: PrincipalSpec | None
    not_principal: bool
    conditions: tuple[Condition, ...]
    _action_cache: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def matches_action(self, action: str) -> bool:
        key = action.lower()
        hit = self._action_cache.get(key)
        if hit is None:
            named = any(p.matches(key, _none, ignore_case=True) for p in self.actions)
            hit = named != self.not_action
            self._action_cache[key] = hit
        return hit

    def _resource_unknown(self, ctx: RequestContext) -> tuple[str, ...]:
        """Keys of the Resource/NotResource variables whose value is not known."""
        if self.resources is None:
            return ()
        keys = dict.fromkeys(v.key for p in self.resources for v in p.variables())
        return tuple(k for k in keys if not ctx.known(k))

    def _resource_applies(self, resource: str, ctx: RequestContext, mode: ResourceMode) -> bool:
        if self.resources is None:
            return True
        look = ctx.single
        if self.not_resource and any(p.resolve(look) is None for p in self.resources):
            return False  # NotResource with a variable that has no value: an invalid statement
        if resource == EVERY_RESOURCE and mode is ResourceMode.LITERAL:
            named = any(p.matches(resource, look, kind="arn") for p in self.resources)
            return named != self.not_resource
        if resource == EVERY_RESOURCE:
            # "Does the statement cover every resource / some resource?"
            if self.not_resource:
                excluded = [p for p in self.resources if p.resolve(look) is not None]
                if mode is ResourceMode.ALL:
                    return not excluded
                return not any(p.is_everything for p in excluded)
            usable = [p for p in self.resources if p.resolve(look) is not None]
            if mode is ResourceMode.ALL:
                return any(p.is_everything for p in usable)
            return bool(usable)
        named = any(p.matches(resource, look, kind="arn") for p in self.resources)
        return named != self.not_resource

    def outcome(
        self,
        action: str,
        resource: str,
        ctx: RequestContext,
        caller: Caller | None = None,
        mode: ResourceMode = ResourceMode.LITERAL,
        *,
        boundary: bool = False,
    ) -> StatementMatch:
        """Whether this statement applies to the request; `caller` for resource-based policies,
        `boundary` when the caller has a permissions boundary."""
        if not self.matches_action(action):
            return StatementMatch(Miss.ACTION)
        level: PrincipalLevel | None = None
        if self.principal is not None and caller is not None:
            level = self.principal.match(caller)
            if self.not_principal:
                level = PrincipalLevel.ANYONE if level is None else None
                if self.effect == "Deny" and boundary:
                    level = PrincipalLevel.ANYONE  # NotPrincipal never exempts a bounded principal
            if level is None:
                return StatementMatch(
                    Miss.PRINCIPAL,
                    detail=f"{'NotPrincipal' if self.not_principal else 'Principal'} "
                    f"{self.principal.describe()} does not name {caller.arn}",
                )
        # Deny statements count in the opposite ResourceMode: a Deny on some resource already
        # breaks "allowed on every resource".
        effective = mode if self.effect == "Allow" else _opposite(mode)
        unknown: dict[str, None] = {}
        pending: list[str] = []
        if resource_keys := self._resource_unknown(ctx):
            unknown.update(dict.fromkeys(resource_keys))
            shown = ", ".join(p.text for p in self.resources or ())
            pending.append(f"{'NotResource' if self.not_resource else 'Resource'} {shown}")
        elif not self._resource_applies(resource, ctx, effective):
            shown = ", ".join(p.text for p in self.resources or ())
            element = "NotResource" if self.not_resource else "Resource"
            if self.not_resource and any(p.resolve(ctx.single) is None for p in self.resources or ()):
                detail = f"NotResource {shown}: a policy variable with no value makes the statement invalid"
                return StatementMatch(Miss.RESOURCE, detail=detail)
            return StatementMatch(Miss.RESOURCE, detail=f"{element} {shown} does not cover {resource}")
        for cond in self.conditions:
            held = cond.test(ctx)
            if held is None:
                unknown.update(dict.fromkeys(cond.unknown_keys(ctx)))
                pending.append(f"condition {cond.describe()}")
            elif not held:
                detail = f"condition {cond.describe()} not met (value: {cond.request_value(ctx)})"
                if not cond.base:
                    detail = f"condition operator {cond.operator} is not supported by this evaluator"
                elif cond.invalid(ctx):
                    detail = (
                        f"condition {cond.describe()}: a negated operator with a policy variable that "
                        "has no value makes the statement invalid"
                    )
                return StatementMatch(Miss.CONDITION, detail=detail)
        if unknown:
            keys = tuple(_spelled(k, self) for k in unknown)
            detail = f"{'; '.join(pending)}: depends on {', '.join(keys)}, not known"
            return StatementMatch(None, level, detail, keys)
        return StatementMatch(None, level)

    def label(self) -> str:
        sid = f" ({self.sid})" if self.sid else ""
        return f"statement {self.index}{sid}"


def _opposite(mode: ResourceMode) -> ResourceMode:
    if mode is ResourceMode.LITERAL:
        return mode
    return ResourceMode.ANY if mode is ResourceMode.ALL else ResourceMode.ALL


def _spelled(key: str, st: Statement) -> str:
    """A lower-cased key as the statement spells it (for explanations)."""
    for cond in st.conditions:
        if cond.lookup_key == key:
            return cond.key
    for p in (*(st.resources or ()), *(v for c in st.conditions for v in c.values)):
        text = p.text
        i = text.lower().find(key)
        if i != -1:
            return text[i : i + len(key)]
    return key


def _none(_key: str) -> str | None:
    return None


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value)
    return (str(value),)


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy document, compiled. `document` is the JSON text it came from."""

    document: str
    version: str | None
    statements: tuple[Statement, ...]

    def numeric_constants(self, key: str) -> set[float]:
        """Numbers this policy compares `key` against (where a decision can change with its value)."""
        out: set[float] = set()
        for st in self.statements:
            for cond in st.conditions:
                if cond.lookup_key == key.lower() and cond.base.startswith("Numeric"):
                    for v in cond.values:
                        try:
                            out.add(float(v.text))
                        except ValueError:
                            continue
        return out


def _statement(index: int, st: Mapping[str, Any], variables: bool) -> Statement:
    def patterns(key: str, use_vars: bool) -> tuple[Pattern, ...]:
        return tuple(Pattern.parse(v, variables=use_vars) for v in _strings(st.get(key)))

    has_resource = "Resource" in st or "NotResource" in st
    principal_key = "NotPrincipal" if "NotPrincipal" in st else "Principal"
    sid = st.get("Sid")
    return Statement(
        index=index,
        sid=str(sid) if sid else None,
        effect="Deny" if str(st.get("Effect", "")).lower() == "deny" else "Allow",
        actions=patterns("NotAction" if "NotAction" in st else "Action", False),
        not_action="NotAction" in st,
        resources=patterns("NotResource" if "NotResource" in st else "Resource", variables)
        if has_resource
        else None,
        not_resource="NotResource" in st,
        principal=PrincipalSpec.parse(st[principal_key]) if principal_key in st else None,
        not_principal="NotPrincipal" in st,
        conditions=compile_conditions(st.get("Condition"), variables=variables),
    )


@lru_cache(maxsize=4096)
def _compile_text(text: str) -> CompiledPolicy:
    doc = json.loads(text)
    version = doc.get("Version") if isinstance(doc, Mapping) else None
    raw = doc.get("Statement", []) if isinstance(doc, Mapping) else []
    items = [raw] if isinstance(raw, Mapping) else list(raw)
    variables = version == VARIABLES_VERSION
    statements = tuple(
        _statement(i, st, variables)
        for i, st in enumerate(items)
        if isinstance(st, Mapping) and str(st.get("Effect", "")).lower() in ("allow", "deny")
    )
    return CompiledPolicy(text, version, statements)


def compile_policy(document: Mapping[str, Any] | str) -> CompiledPolicy:
    """The compiled form of a policy document (a mapping or its JSON text), cached by content.

    Statements without a valid Effect are left out: IAM rejects such documents, so they never
    reach an evaluation on AWS.
    """
    text = document if isinstance(document, str) else json.dumps(document, sort_keys=True)
    return _compile_text(text)
