"""The IAM identity-policy grammar, checked before AWS sees a document.

`check_policy_document` walks a JSON-compatible document and returns every problem it finds,
each located by a path relative to the document (so the spec loader can map it back to a YAML
line). It checks the grammar AWS enforces for identity-based policies (no Principal), not what
the actions mean. `policy_size` measures a document the way IAM counts it against its quotas:
the JSON text without whitespace.

The lint helpers (`grants_full_admin`, `mfa_bool_conditions`) answer narrower questions the
spec linter asks about documents that are valid.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

#: A location inside a policy document: keys and list indices from the root.
DocPath = tuple[str | int, ...]

VERSIONS: Final = ("2012-10-17", "2008-10-17")
TOP_KEYS: Final = ("Version", "Id", "Statement")
STATEMENT_KEYS: Final = ("Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition")
EFFECTS: Final = ("Allow", "Deny")

# IAM quotas, in characters of the whitespace-free JSON (IAM "Character limits"). Inline limits
# are for the total of all inline policies of one identity, not per document.
MANAGED_POLICY_LIMIT: Final = 6_144
USER_INLINE_LIMIT: Final = 2_048
GROUP_INLINE_LIMIT: Final = 5_120
ROLE_INLINE_LIMIT: Final = 10_240

CONDITION_OPERATORS: Final = (
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike",
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals",
    "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals",
    "DateGreaterThan", "DateGreaterThanEquals",
    "Bool", "BinaryEquals", "IpAddress", "NotIpAddress",
    "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike",
    "Null",
)  # fmt: skip
_SET_PREFIXES: Final = ("ForAllValues:", "ForAnyValue:")

_ACTION = re.compile(r"^(\*|[a-z0-9][a-z0-9-]*:[A-Za-z0-9*?]+)$", re.ASCII)
_SID = re.compile(r"^[A-Za-z0-9]*$", re.ASCII)
# arn:partition:service:region:account:resource; every part but the resource may be empty or wild.
_RESOURCE_ARN = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:[^:]*:.+$")

ADMIN_POLICY_ARN_SUFFIX: Final = ":iam::aws:policy/AdministratorAccess"


@dataclass(frozen=True)
class PolicyProblem:
    """One grammar problem, at `path` inside the document."""

    path: DocPath
    message: str
    hint: str | None = None


def check_policy_document(doc: Any) -> list[PolicyProblem]:
    """Every grammar problem in an identity-based policy document; [] when it is valid."""
    problems: list[PolicyProblem] = []
    if not isinstance(doc, Mapping):
        return [PolicyProblem((), f"a policy document must be a mapping, got {type_name(doc)}")]
    for key in doc:
        if key not in TOP_KEYS:
            problems.append(PolicyProblem((key,), f"unknown policy element {key!r}", _choices(key, TOP_KEYS)))
    version = doc.get("Version")
    if version is None:
        problems.append(PolicyProblem((), "missing Version", 'add Version: "2012-10-17"'))
    elif version not in VERSIONS:
        problems.append(
            PolicyProblem(
                ("Version",),
                f"Version must be one of {', '.join(VERSIONS)}, got {version!r}",
                'use Version: "2012-10-17" (quoted)',
            )
        )
    if "Statement" not in doc:
        problems.append(PolicyProblem((), "missing Statement"))
        return problems
    statements = doc["Statement"]
    if isinstance(statements, Mapping):
        problems.extend(_check_statement(statements, ("Statement",)))
        sids = [statements.get("Sid")]
    elif isinstance(statements, list):
        if not statements:
            problems.append(PolicyProblem(("Statement",), "Statement must not be empty"))
        for i, st in enumerate(statements):
            problems.extend(_check_statement(st, ("Statement", i)))
        sids = [st.get("Sid") for st in statements if isinstance(st, Mapping)]
    else:
        problems.append(
            PolicyProblem(
                ("Statement",), f"Statement must be a mapping or a list, got {type_name(statements)}"
            )
        )
        return problems
    seen: set[str] = set()
    for i, sid in enumerate(sids):
        if isinstance(sid, str) and sid:
            if sid in seen:
                problems.append(
                    PolicyProblem(
                        ("Statement", i, "Sid"),
                        f"duplicate Sid {sid!r}",
                        "IAM requires every Sid in a policy to be unique",
                    )
                )
            seen.add(sid)
    return problems


def _check_statement(st: Any, at: DocPath) -> list[PolicyProblem]:
    if not isinstance(st, Mapping):
        return [PolicyProblem(at, f"a statement must be a mapping, got {type_name(st)}")]
    problems: list[PolicyProblem] = []
    for key in st:
        if key in ("Principal", "NotPrincipal"):
            problems.append(
                PolicyProblem(
                    (*at, key),
                    f"{key} is not allowed in an identity-based policy",
                    "identity policies apply to the user, group or role they are attached to",
                )
            )
        elif key not in STATEMENT_KEYS:
            problems.append(
                PolicyProblem((*at, key), f"unknown statement element {key!r}", _choices(key, STATEMENT_KEYS))
            )
    sid = st.get("Sid")
    if sid is not None and not (isinstance(sid, str) and _SID.match(sid)):
        problems.append(PolicyProblem((*at, "Sid"), f"Sid must contain only letters and digits, got {sid!r}"))
    effect = st.get("Effect")
    if effect is None:
        problems.append(PolicyProblem(at, "missing Effect", "valid values: Allow, Deny"))
    elif effect not in EFFECTS:
        problems.append(
            PolicyProblem(
                (*at, "Effect"),
                f"Effect must be Allow or Deny, got {effect!r}",
                _choices(str(effect), EFFECTS),
            )
        )
    problems.extend(_exactly_one(st, at, "Action", "NotAction", _check_action))
    problems.extend(_exactly_one(st, at, "Resource", "NotResource", _check_resource))
    if "Condition" in st:
        problems.extend(_check_condition(st["Condition"], (*at, "Condition")))
    return problems


def _exactly_one(
    st: Mapping[str, Any], at: DocPath, a: str, not_a: str, check_one: Any
) -> list[PolicyProblem]:
    present = [k for k in (a, not_a) if k in st]
    if not present:
        return [PolicyProblem(at, f"missing {a} (or {not_a})")]
    if len(present) == 2:
        return [PolicyProblem((*at, not_a), f"a statement has either {a} or {not_a}, not both")]
    key = present[0]
    value = st[key]
    items: list[Any]
    if isinstance(value, str):
        return list(check_one(value, (*at, key)))
    if isinstance(value, list):
        items = value
        if not items:
            return [PolicyProblem((*at, key), f"{key} must not be empty")]
        out: list[PolicyProblem] = []
        for i, item in enumerate(items):
            out.extend(check_one(item, (*at, key, i)))
        return out
    return [PolicyProblem((*at, key), f"{key} must be a string or a list of strings, got {type_name(value)}")]


def _check_action(value: Any, at: DocPath) -> Iterator[PolicyProblem]:
    if not isinstance(value, str):
        yield PolicyProblem(at, f"an action must be a string, got {type_name(value)}")
    elif not _ACTION.match(value):
        yield PolicyProblem(
            at,
            f"invalid action {value!r}",
            'write actions as "service:Action" (e.g. "s3:GetObject", "ec2:Describe*") or "*"',
        )


def _check_resource(value: Any, at: DocPath) -> Iterator[PolicyProblem]:
    if not isinstance(value, str):
        yield PolicyProblem(at, f"a resource must be a string, got {type_name(value)}")
    elif value != "*" and not _RESOURCE_ARN.match(value):
        yield PolicyProblem(
            at,
            f"invalid resource {value!r}",
            'use "*" or an ARN (arn:partition:service:region:account:resource)',
        )


def _check_condition(cond: Any, at: DocPath) -> Iterator[PolicyProblem]:
    if not isinstance(cond, Mapping):
        yield PolicyProblem(
            at, f"Condition must be a mapping of operator to {{key: value}}, got {type_name(cond)}"
        )
        return
    for op, block in cond.items():
        if not isinstance(op, str) or not is_condition_operator(op):
            base = str(op)
            yield PolicyProblem(
                (*at, base),
                f"unknown condition operator {op!r}",
                _choices(
                    base, CONDITION_OPERATORS, also="optionally with IfExists, ForAllValues: or ForAnyValue:"
                ),
            )
            continue
        if not isinstance(block, Mapping) or not block:
            yield PolicyProblem((*at, op), f"condition {op} must be a non-empty mapping of key to value(s)")
            continue
        for key, value in block.items():
            where = (*at, op, str(key))
            if not isinstance(key, str) or not key:
                yield PolicyProblem(where, f"a condition key must be a string, got {key!r}")
            if isinstance(value, list):
                if not value:
                    yield PolicyProblem(where, "a condition value list must not be empty")
                for i, item in enumerate(value):
                    if not _is_scalar(item):
                        yield PolicyProblem(
                            (*where, i), f"a condition value must be a scalar, got {type_name(item)}"
                        )
            elif not _is_scalar(value):
                yield PolicyProblem(
                    where, f"a condition value must be a scalar or a list, got {type_name(value)}"
                )


def is_condition_operator(op: str) -> bool:
    """True when `op` is a condition operator IAM accepts, with its IfExists/set forms."""
    for prefix in _SET_PREFIXES:
        if op.startswith(prefix):
            op = op[len(prefix) :]
            break
    if op.endswith("IfExists") and op != "IfExists":
        op = op[: -len("IfExists")]
        # Null already tests for existence; IAM rejects NullIfExists.
        return op in CONDITION_OPERATORS and op != "Null"
    return op in CONDITION_OPERATORS


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def policy_size(doc: Any) -> int:
    """Characters IAM counts against its quotas: the document's JSON without whitespace."""
    return len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False))


def type_name(value: Any) -> str:
    """How a YAML/JSON value's type reads in a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    """The closest of `choices` to `word` (case-insensitively), if any is close."""
    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def _choices(word: str, choices: Sequence[str], also: str = "") -> str:
    guess = did_you_mean(word, choices)
    valid = f"valid: {', '.join(choices)}" + (f"; {also}" if also else "")
    return f"did you mean {guess!r}? {valid}" if guess else valid


# --- lint helpers -------------------------------------------------------------------------------


def _statements(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    st = doc.get("Statement")
    if isinstance(st, Mapping):
        return [st]
    if isinstance(st, list):
        return [s for s in st if isinstance(s, Mapping)]
    return []


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def full_admin_statements(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The statements that allow Action "*" on Resource "*" (CIS 1.16's "*:*" test).

    Action "*" among other actions, or Resource "*" among ARNs, still counts: the list grants the
    union. Statements with NotAction are not counted (CIS counts Action "*" only); their
    conditions are kept, for the caller to weigh.
    """
    return [
        st
        for st in _statements(doc)
        if st.get("Effect") == "Allow"
        and "*" in _as_list(st.get("Action"))
        and "*" in _as_list(st.get("Resource"))
    ]


def grants_full_admin(doc: Mapping[str, Any]) -> bool:
    """True when a statement allows every action on every resource without conditions."""
    return any(not st.get("Condition") for st in full_admin_statements(doc))


def is_admin_policy_arn(arn: str) -> bool:
    """True for the AWS-managed AdministratorAccess policy in any partition."""
    return arn.startswith("arn:aws") and arn.endswith(ADMIN_POLICY_ARN_SUFFIX)


@dataclass(frozen=True)
class MfaBoolUse:
    """A statement that tests aws:MultiFactorAuthPresent with a plain Bool."""

    path: DocPath  # to the Bool block's key
    effect: str


def mfa_bool_conditions(doc: Mapping[str, Any]) -> list[MfaBoolUse]:
    """Statements using `Bool` (not BoolIfExists) on aws:MultiFactorAuthPresent."""
    found: list[MfaBoolUse] = []
    raw = doc.get("Statement")
    indexed: list[tuple[DocPath, Any]] = (
        [(("Statement",), raw)]
        if isinstance(raw, Mapping)
        else [(("Statement", i), s) for i, s in enumerate(raw)]
        if isinstance(raw, list)
        else []
    )
    for at, st in indexed:
        if not isinstance(st, Mapping):
            continue
        cond = st.get("Condition")
        if not isinstance(cond, Mapping):
            continue
        for op, block in cond.items():
            if op in ("Bool", "ForAllValues:Bool", "ForAnyValue:Bool") and isinstance(block, Mapping):
                for key in block:
                    if isinstance(key, str) and key.lower() == "aws:multifactorauthpresent":
                        found.append(MfaBoolUse((*at, "Condition", op, key), str(st.get("Effect"))))
    return found
