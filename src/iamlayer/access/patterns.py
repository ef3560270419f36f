"""Wildcard patterns as IAM matches them: actions, resource ARNs, string and ARN condition values.

A pattern is parsed once into tokens: literal text, the wildcards `*` (any run of characters) and
`?` (any one character), and policy variables (`${aws:username}`, `${aws:PrincipalTag/team,
'none'}`). The escapes `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and `$`, so
`${*}` never acts as a wildcard. Variables exist only in policies with `Version: 2012-10-17`;
older or versionless documents read `${...}` as plain text (IAM "Variables and tags").

A variable resolves from the request context. One that has no value there (and no default)
makes the whole pattern match nothing, the way IAM treats a key that is "not present": a
Resource naming `user/${aws:username}` matches no resource for a caller that has no user name.

ARN patterns follow the Resource element's rules: each of the first five colon-separated
segments (arn, partition, service, region, account) is matched on its own, so a `*` inside one
does not run into the next; a `*` that ends a segment may run past colons ("If the * wildcard is
the last character of a resource ARN segment, it can expand to match beyond the colon
boundaries"); the resource segment, which contains colons of its own, is matched as one string.
Resource ARNs are case-sensitive; actions are not.

The ARN condition operators (ArnEquals, ArnLike, ArnNotEquals, ArnNotLike) are stricter: "Each
of the six colon-delimited components of the ARN is checked separately and each can include
multi-character match wildcards (*) or single-character match wildcards (?)", so no wildcard in
the first five components runs past a colon (kind "arn-condition"):
`arn:aws:someservice:*:111122223333:finance/*` does not match
`arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt`.

Compiled regular expressions are cached per resolved pattern, so the many requests of a check
or a who-can-assume query reuse them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache


class Wild(Enum):
    STAR = "*"
    QMARK = "?"


@dataclass(frozen=True)
class Var:
    """A policy variable: the request-context key it names, and its default (None: no default)."""

    key: str  # lower-cased: condition keys are case-insensitive
    default: str | None = None


Token = str | Wild | Var
#: tokens after variables are resolved: only literal text and wildcards
Resolved = tuple[str | Wild, ...]

#: the function that gives a variable's value, or None when the request has none
Lookup = Callable[[str], str | None]

_VAR_BODY = re.compile(r"\s*([^,\s]+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?", re.DOTALL)


def _parse_var(body: str) -> Token | None:
    """The token for `${body}`, or None when `body` is not a valid variable."""
    if body in ("*", "?", "$"):
        return body  # a literal: ${*} is a star that is not a wildcard
    m = _VAR_BODY.fullmatch(body)
    if m is None:
        return None
    default = m.group(2)
    return Var(m.group(1).lower(), default.replace("''", "'") if default is not None else None)


def tokenize(text: str, *, variables: bool) -> tuple[Token, ...]:
    """Split `text` into literal runs, wildcards and (when `variables`) policy variables."""
    tokens: list[Token] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            tokens.append("".join(buf))
            buf.clear()

    i = 0
    while i < len(text):
        ch = text[i]
        if variables and text.startswith("${", i):
            end = text.find("}", i + 2)
            token = _parse_var(text[i + 2 : end]) if end != -1 else None
            if token is not None:
                if isinstance(token, str):
                    buf.append(token)
                else:
                    flush()
                    tokens.append(token)
                i = end + 1
                continue
        if ch == "*":
            flush()
            tokens.append(Wild.STAR)
        elif ch == "?":
            flush()
            tokens.append(Wild.QMARK)
        else:
            buf.append(ch)
        i += 1
    flush()
    return tuple(tokens)


@dataclass(frozen=True)
class Pattern:
    """One pattern from a policy, parsed; `text` is how the policy wrote it."""

    text: str
    tokens: tuple[Token, ...]

    @classmethod
    def parse(cls, text: str, *, variables: bool) -> Pattern:
        return cls(text, tokenize(text, variables=variables))

    @property
    def has_variables(self) -> bool:
        return any(isinstance(t, Var) for t in self.tokens)

    @property
    def is_everything(self) -> bool:
        """True when the pattern matches every string (`*`, `**`...)."""
        return bool(self.tokens) and all(t is Wild.STAR for t in self.tokens)

    def variables(self) -> tuple[Var, ...]:
        return tuple(t for t in self.tokens if isinstance(t, Var))

    def resolve(self, lookup: Lookup) -> Resolved | None:
        """The tokens with every variable replaced by its value; None if one has no value."""
        if not self.has_variables:
            return self.tokens  # type: ignore[return-value]
        out: list[str | Wild] = []
        for t in self.tokens:
            if isinstance(t, Var):
                value = lookup(t.key)
                if value is None:
                    value = t.default
                if value is None:
                    return None
                out.append(value)
            else:
                out.append(t)
        return tuple(out)

    def literal(self, lookup: Lookup) -> str | None:
        """The pattern as plain text (wildcards as the characters * and ?), variables resolved."""
        resolved = self.resolve(lookup)
        if resolved is None:
            return None
        return "".join(t.value if isinstance(t, Wild) else t for t in resolved)

    def matches(self, value: str, lookup: Lookup, *, kind: str = "glob", ignore_case: bool = False) -> bool:
        """Whether `value` matches. `kind` is "glob" (actions, StringLike), "arn" (Resource) or
        "arn-condition" (ArnLike and the other ARN condition operators)."""
        if self.is_everything:
            return True
        resolved = self.resolve(lookup)
        if resolved is None:
            return False
        return _regex(resolved, kind, ignore_case).fullmatch(value) is not None


@lru_cache(maxsize=8192)
def _regex(tokens: Resolved, kind: str, ignore_case: bool) -> re.Pattern[str]:
    parts: list[str] = []
    colons = 0  # colons seen so far in literal text: which ARN segment we are in
    for i, t in enumerate(tokens):
        if isinstance(t, str):
            parts.append(re.escape(t))
            colons += t.count(":")
            continue
        in_prefix = kind in ("arn", "arn-condition") and colons < 5
        ends_segment = kind == "arn" and (
            i + 1 == len(tokens) or (isinstance(tokens[i + 1], str) and str(tokens[i + 1]).startswith(":"))
        )
        if t is Wild.STAR:
            parts.append("[^:]*" if in_prefix and not ends_segment else ".*")
        else:
            parts.append("[^:]" if in_prefix else ".")
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """A one-off wildcard match without variables (e.g. an action against `iam:*`)."""
    return Pattern.parse(pattern, variables=False).matches(value, _no_vars, ignore_case=ignore_case)


def _no_vars(_key: str) -> str | None:
    return None


def arn_account(arn: str) -> str | None:
    """The account id of an ARN (`arn:aws:iam::123456789012:user/x` -> 123456789012), if any."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[4]:
        return parts[4]
    return None


def arn_service(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[2] if len(parts) == 6 and parts[0] == "arn" else None


def is_arn(value: str) -> bool:
    parts = value.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and bool(parts[1]) and bool(parts[2]) and bool(parts[5])
