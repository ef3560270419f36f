"""Condition operators, as IAM documents them ("Condition operators", "Conditions with multiple
context keys or values", "Single-valued vs. multivalued context keys").

The rules applied, in one place:
- Several operators in one Condition block, and several keys under one operator: all must hold
  (AND). Several values for one key: any may match (OR); for a negated operator (StringNotEquals,
  ArnNotLike, NotIpAddress, NumericNotEquals, DateNotEquals) none may match (NOR).
- A key that is not in the request context: the condition is false, except that a negated
  operator is then true ("If the policy condition requires that the key is not matched, such as
  StringNotLike or ArnNotLike, and the right key is not present, the condition is true"); the
  `...IfExists` forms are true; `Null` tests exactly this.
- `ForAllValues:` holds when every value of the request's key matches one of the policy values,
  and also when the key is missing or empty; `ForAnyValue:` holds when at least one value
  matches, and never when the key is missing.
- Policy variables are allowed in string and ARN operators only; `Bool`, `Numeric*`, `Date*`,
  `Binary`, `IpAddress` and `Null` values are taken as written. A variable with no value (and
  no default) matches nothing; under a negated operator it makes the statement invalid: the
  condition is false whatever the key, so neither an Allow nor a Deny applies (IAM "Policy
  variables": with a negated operator and no value, the statement does not take effect). A
  multivalued key has no value as a variable.
- `Bool` compares `true`/`false` case-insensitively; numbers compare as numbers; dates accept
  ISO 8601 or epoch seconds; ArnEquals and ArnLike both match ARN wildcards, each of the six ARN
  components on its own (see `iamlayer.access.patterns`).
- In an open request context (`RequestContext.open_world`), a key (or a variable's key) whose value is
  not known makes the condition unknown: `Condition.test` answers None, and the statement then
  may or may not apply.

An operator this module does not know makes its condition false (a statement never applies on
a condition it cannot read), and the explanation says so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from iamlayer.access.context import RequestContext
from iamlayer.access.patterns import Lookup, Pattern, is_arn

_SYMBOLS = {
    "StringEquals": "=",
    "StringNotEquals": "!=",
    "StringEqualsIgnoreCase": "= (any case)",
    "StringNotEqualsIgnoreCase": "!= (any case)",
    "StringLike": "like",
    "StringNotLike": "not like",
    "NumericEquals": "=",
    "NumericNotEquals": "!=",
    "NumericLessThan": "<",
    "NumericLessThanEquals": "<=",
    "NumericGreaterThan": ">",
    "NumericGreaterThanEquals": ">=",
    "DateEquals": "=",
    "DateNotEquals": "!=",
    "DateLessThan": "<",
    "DateLessThanEquals": "<=",
    "DateGreaterThan": ">",
    "DateGreaterThanEquals": ">=",
    "Bool": "=",
    "BinaryEquals": "=",
    "IpAddress": "in",
    "NotIpAddress": "not in",
    "ArnEquals": "=",
    "ArnLike": "like",
    "ArnNotEquals": "!=",
    "ArnNotLike": "not like",
    "Null": "is null:",
}
_CANONICAL = {name.lower(): name for name in _SYMBOLS}
_NEGATED = frozenset(
    {
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "NumericNotEquals",
        "DateNotEquals",
        "NotIpAddress",
        "ArnNotEquals",
        "ArnNotLike",
    }
)
_VARIABLE_OPERATORS = ("String", "Arn")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    """Seconds since the epoch of an ISO 8601 date/time or an epoch number; None if neither."""
    n = _number(text)
    if n is not None:
        return n
    try:
        d = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.timestamp()


def _compare(op: str, a: float, b: float) -> bool:
    if op.endswith("GreaterThanEquals"):
        return a >= b
    if op.endswith("GreaterThan"):
        return a > b
    if op.endswith("LessThanEquals"):
        return a <= b
    if op.endswith("LessThan"):
        return a < b
    return a == b  # Equals and NotEquals (negated by the caller)


def _ip(value: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _positive(op: str) -> Callable[[str, Pattern, Lookup], bool]:
    """The match of one request value against one policy value, for the operator's positive form."""
    if op.startswith("String"):
        ignore_case = op.endswith("IgnoreCase")
        if "Like" in op:
            return lambda v, p, look: p.matches(v, look)

        def equals(v: str, p: Pattern, look: Lookup) -> bool:
            want = p.literal(look)
            if want is None:
                return False
            return v.lower() == want.lower() if ignore_case else v == want

        return equals
    if op.startswith("Arn"):
        return lambda v, p, look: is_arn(v) and p.matches(v, look, kind="arn-condition")
    if op.startswith("Numeric"):

        def numeric(v: str, p: Pattern, _look: Lookup) -> bool:
            a, b = _number(v), _number(p.text)
            return a is not None and b is not None and _compare(op, a, b)

        return numeric
    if op.startswith("Date"):

        def date(v: str, p: Pattern, _look: Lookup) -> bool:
            a, b = _date(v), _date(p.text)
            return a is not None and b is not None and _compare(op, a, b)

        return date
    if op == "Bool":
        return lambda v, p, _look: v.lower() == p.text.lower()
    if op == "BinaryEquals":
        return lambda v, p, _look: v == p.text
    if op in ("IpAddress", "NotIpAddress"):
        return lambda v, p, _look: _ip(v, p.text)
    raise ValueError(op)


def _text(value: Any) -> str:
    # IAM stores condition values as strings: true -> "true", 3600 -> "3600".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Condition:
    """One key under one operator, e.g. `"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}`."""

    operator: str  # as written: "ForAnyValue:StringLikeIfExists"
    base: str  # canonical operator without qualifiers: "StringLike" ("" when unknown)
    key: str  # as written
    values: tuple[Pattern, ...]
    set_op: str | None = None  # "all" (ForAllValues), "any" (ForAnyValue) or None
    if_exists: bool = False

    @property
    def negated(self) -> bool:
        return self.base in _NEGATED

    @cached_property
    def lookup_key(self) -> str:
        return self.key.lower()

    @cached_property
    def _match(self) -> Callable[[str, Pattern, Lookup], bool]:
        return _positive(_un_negate(self.base) if self.negated else self.base)

    @cached_property
    def variable_keys(self) -> tuple[str, ...]:
        """The (lower-cased) keys of the policy variables in this condition's values."""
        return tuple(dict.fromkeys(v.key for p in self.values for v in p.variables()))

    def unknown_keys(self, ctx: RequestContext) -> tuple[str, ...]:
        """The keys this condition reads whose value the request context does not know."""
        keys = (self.lookup_key, *self.variable_keys) if self.base else ()
        return tuple(k for k in keys if not ctx.known(k))

    def invalid(self, ctx: RequestContext) -> bool:
        """A negated operator whose policy variable is known to have no value (no default)."""
        return self.negated and any(
            p.resolve(ctx.single) is None and all(ctx.known(v.key) for v in p.variables())
            for p in self.values
        )

    def holds(self, ctx: RequestContext) -> bool:
        return self.test(ctx) is True

    def test(self, ctx: RequestContext) -> bool | None:
        """True or False, or None when it depends on a key whose value is not known."""
        if not self.base:
            return False  # an operator we cannot evaluate never makes a statement apply
        if self.invalid(ctx):
            return False  # a negated operator with a variable that has no value: invalid statement
        if self.unknown_keys(ctx):
            return None
        present = ctx.values(self.lookup_key)
        if self.base == "Null":
            absent = not present
            return any((v.text.lower() == "true") == absent for v in self.values)
        if not present:  # not in the request (or an empty set of values)
            if self.if_exists:
                return True
            if self.set_op == "all":
                return True
            if self.set_op == "any":
                return False
            return self.negated
        look = ctx.single
        match = self._match

        def one(value: str) -> bool:
            hit = any(match(value, p, look) for p in self.values)
            return not hit if self.negated else hit

        if self.set_op == "all":
            return all(one(v) for v in present)
        if self.set_op == "any":
            return any(one(v) for v in present)
        hit = any(match(v, p, look) for v in present for p in self.values)
        return not hit if self.negated else hit

    def describe(self) -> str:
        """`Bool aws:MultiFactorAuthPresent = true`."""
        shown = [v.text for v in self.values]
        want = shown[0] if len(shown) == 1 else "[" + ", ".join(shown) + "]"
        return f"{self.operator} {self.key} {_SYMBOLS.get(self.base, '?')} {want}"

    def request_value(self, ctx: RequestContext) -> str:
        """The request's value of this condition's key, as shown in explanations."""
        got = ctx.values(self.lookup_key)
        if not got:
            return "absent" if ctx.known(self.lookup_key) else "unknown"
        return got[0] if len(got) == 1 else "[" + ", ".join(got) + "]"


def _un_negate(op: str) -> str:
    if op == "NotIpAddress":
        return "IpAddress"
    return op.replace("Not", "", 1)


def parse_operator(name: str) -> tuple[str, str | None, bool]:
    """`ForAllValues:StringLikeIfExists` -> ("StringLike", "all", True); unknown base -> ""."""
    set_op: str | None = None
    rest = name
    lowered = name.lower()
    if lowered.startswith("forallvalues:"):
        set_op, rest = "all", name[len("ForAllValues:") :]
    elif lowered.startswith("foranyvalue:"):
        set_op, rest = "any", name[len("ForAnyValue:") :]
    if_exists = rest.lower().endswith("ifexists")
    if if_exists:
        rest = rest[: -len("IfExists")]
    base = _CANONICAL.get(rest.lower(), "")
    return base, set_op, if_exists


def compile_conditions(block: Any, *, variables: bool) -> tuple[Condition, ...]:
    """Every (operator, key) of a statement's Condition element."""
    if not isinstance(block, dict):
        return ()
    out: list[Condition] = []
    for operator, keys in block.items():
        base, set_op, if_exists = parse_operator(str(operator))
        if not isinstance(keys, dict):
            out.append(Condition(str(operator), "", "", (), set_op, if_exists))
            continue
        use_vars = variables and base.startswith(_VARIABLE_OPERATORS)
        for key, raw in keys.items():
            items: Sequence[Any] = raw if isinstance(raw, list | tuple) else [raw]
            patterns = tuple(Pattern.parse(_text(v), variables=use_vars) for v in items)
            out.append(Condition(str(operator), base, str(key), patterns, set_op, if_exists))
    return tuple(out)
