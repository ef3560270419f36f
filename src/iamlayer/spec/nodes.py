"""Reading a parsed spec (iamlayer.spec.yaml12: plain data that knows its lines) while collecting
located diagnostics.

A `Node` is a YAML value with the key path and the 1-based line where it appears (the line of
its key in the parent mapping, or of its item in the parent list). A `Reader` checks types and
fields of nodes, records every problem as a `Diagnostic` and never stops at the first: callers
get `None` for a value that was wrong and carry on, so one run reports everything.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iamlayer.errors import Diagnostic
from iamlayer.spec.policy_grammar import DocPath, did_you_mean, type_name


def join_path(base: str, key: str | int) -> str:
    """`users` + `jane.doe` -> `users.jane.doe`; `groups` + 0 -> `groups[0]`."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else str(key)


def doc_path_suffix(rel: DocPath) -> str:
    """A path inside a policy document as a key-path suffix: `.Statement[0].Effect`."""
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in rel)


def _key_line(mapping: Any, key: Any) -> int | None:
    # Plain dicts (policy documents read from JSON files) carry no position.
    lines = getattr(mapping, "key_lines", None)
    return lines.get(key) if lines is not None else None


def _item_line(seq: Any, index: int) -> int | None:
    lines = getattr(seq, "item_lines", None)
    return lines[index] if lines is not None and 0 <= index < len(lines) else None


@dataclass(frozen=True)
class Node:
    """A value from the spec, where it is (key path and 1-based line)."""

    value: Any
    path: str
    line: int | None

    def child(self, key: Any) -> Node:
        line = _key_line(self.value, key)
        return Node(self.value[key], join_path(self.path, str(key)), line or self.line)

    def item(self, index: int) -> Node:
        line = _item_line(self.value, index)
        return Node(self.value[index], join_path(self.path, index), line or self.line)

    def line_at(self, rel: DocPath) -> int | None:
        """The line of the deepest node along `rel` that exists."""
        node: Node = self
        for step in rel:
            value = node.value
            if isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value):
                node = node.item(step)
            elif isinstance(value, Mapping) and step in value:
                node = node.child(step)
            else:
                break
        return node.line


def to_plain(value: Any) -> Any:
    """Parsed YAML as plain JSON-compatible data (dict, list, str, int, float, bool, None).

    YAML reads an unquoted 2012-10-17 as a date; in a policy document it can only mean the
    Version string, so dates become ISO strings.
    """
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)
    return value


class Reader:
    """Type and field checks over `Node`s; every problem becomes a Diagnostic."""

    def __init__(self, file: str, schemas: Mapping[str, Sequence[str]] | None = None) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        #: line of every key path seen, for later passes (lint) that only have the model
        self.lines: dict[str, int] = {}
        #: the fields of each kind of entry ("user" -> its fields), so that a field indented too
        #: little, which YAML reads as a field of the mapping above or as an entry name, is
        #: reported as an indentation problem rather than as an unknown field
        self.schemas: Mapping[str, Sequence[str]] = schemas or {}

    def _owners(self, key: str, besides: str = "") -> list[str]:
        """The kinds of entry that have a field named `key` (other than `besides`)."""
        return [what for what, known in self.schemas.items() if key in known and what != besides]

    def _indentation_hint(self, key: str, owners: Sequence[str]) -> str:
        kinds = " or ".join(f"a {w}" for w in owners)
        return f"{key!r} is a field of {kinds}: check the indentation here (is it indented too little?)"

    # --- reporting ------------------------------------------------------------------------------

    def error(
        self,
        node: Node,
        message: str,
        hint: str | None = None,
        *,
        path: str | None = None,
        line: int | None = None,
    ) -> None:
        self.diagnostics.append(
            Diagnostic(self.file, line or node.line, path if path is not None else node.path, message, hint)
        )

    def warn(self, path: str, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(self.file, self.line_of(path), path, message, hint, "warning"))

    def note(self, path: str, message: str, hint: str | None = None) -> None:
        """Something a person should know about a valid spec that is not a problem."""
        self.diagnostics.append(Diagnostic(self.file, self.line_of(path), path, message, hint, "note"))

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    def seen(self, node: Node) -> Node:
        if node.line is not None:
            self.lines.setdefault(node.path, node.line)
        return node

    def line_of(self, path: str) -> int | None:
        """The line of `path`, or of its nearest recorded ancestor."""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            if cut <= 0:
                break
            path = path[:cut]
        return self.lines.get(path)

    def record_tree(self, node: Node) -> None:
        """Remember the line of every node below `node` (policy documents, for lint)."""
        self.seen(node)
        if isinstance(node.value, Mapping):
            for k in node.value:
                self.record_tree(node.child(k))
        elif isinstance(node.value, list):
            for i in range(len(node.value)):
                self.record_tree(node.item(i))

    # --- structure ------------------------------------------------------------------------------

    def fields(
        self, node: Node, known: Sequence[str], required: Collection[str] = (), what: str = ""
    ) -> dict[str, Node] | None:
        """The known fields of a mapping node, reporting unknown, missing and non-mapping."""
        what = what or node.path or "the spec"
        if not isinstance(node.value, Mapping):
            self.error(
                node,
                f"{what} must be a mapping, got {type_name(node.value)}",
                f"valid fields: {', '.join(known)}",
            )
            return None
        out: dict[str, Node] = {}
        for key in node.value:
            child = self.seen(node.child(key))
            if isinstance(key, str) and key in known:
                out[key] = child
                continue
            # At the top level, a field of an entry is what YAML makes of a line indented too little.
            owners = self._owners(key) if isinstance(key, str) and not node.path else []
            if owners:
                self.error(child, f"{key!r} is not a field of {what}", self._indentation_hint(key, owners))
                continue
            guess = did_you_mean(str(key), known) if isinstance(key, str) else None
            valid = f"valid fields: {', '.join(known)}"
            self.error(
                child, f"unknown field {key!r}", f"did you mean {guess!r}? {valid}" if guess else valid
            )
        for key in required:
            if key not in node.value:
                self.error(node, f"missing required field {key!r}", path=join_path(node.path, key))
        return out

    def named(self, node: Node, what: str) -> list[tuple[str, Node]]:
        """Entries of a `name: {...}` section (users, groups, ...); null reads as empty."""
        if node.value is None:
            return []
        if not isinstance(node.value, Mapping):
            owners = self._owners(node.path.rsplit(".", 1)[-1], besides=what)
            self.error(
                node,
                f"{node.path} must be a mapping of {what} name to its settings, got {type_name(node.value)}",
                self._indentation_hint(node.path.rsplit(".", 1)[-1], owners) if owners else None,
            )
            return []
        out: list[tuple[str, Node]] = []
        for key in node.value:
            child = self.seen(node.child(key))
            if not isinstance(key, str):
                self.error(child, f"{what} name must be a string, got {type_name(key)}", f'quote it: "{key}"')
                continue
            if key in self.schemas.get(what, ()) and not isinstance(child.value, Mapping | None):
                # `groups: [devops]` under `users:` is a user's field indented too little, not a
                # user named "groups".
                self.error(
                    child,
                    f"{key!r} reads as a {what} named {key!r} under {node.path}",
                    self._indentation_hint(key, [what]),
                )
                continue
            out.append((key, child))
        return out

    def items(self, node: Node, what: str) -> list[Node]:
        """Items of a list node; null reads as empty, a lone scalar is reported."""
        if node.value is None:
            return []
        if not isinstance(node.value, list):
            self.error(
                node,
                f"{node.path} must be a list of {what}, got {type_name(node.value)}",
                f"write it as [{node.value}]" if isinstance(node.value, str) else None,
            )
            return []
        return [self.seen(node.item(i)) for i in range(len(node.value))]

    # --- scalars --------------------------------------------------------------------------------

    def string(
        self, node: Node, *, pattern: re.Pattern[str] | None = None, rule: str = "", what: str = ""
    ) -> str | None:
        """A non-empty string, optionally matching `pattern` (`rule` says the rule in words)."""
        what = what or node.path
        value = node.value
        if not isinstance(value, str):
            self.error(node, f"{what} must be a string, got {type_name(value)}")
            return None
        if not value:
            self.error(node, f"{what} must not be empty")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.error(node, f"invalid {what} {value!r}", rule or None)
            return None
        return str(value)

    def boolean(self, node: Node) -> bool | None:
        if not isinstance(node.value, bool):
            hint = "write true or false (unquoted)" if isinstance(node.value, str) else None
            self.error(node, f"{node.path} must be true or false, got {type_name(node.value)}", hint)
            return None
        return bool(node.value)

    def integer(self, node: Node, low: int | None = None, high: int | None = None) -> int | None:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(node, f"{node.path} must be an integer, got {type_name(value)}")
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            span = (
                f"{low}..{high}"
                if low is not None and high is not None
                else (f">= {low}" if low is not None else f"<= {high}")
            )
            self.error(node, f"{node.path} must be in {span}, got {value}")
            return None
        return int(value)

    def choice(self, node: Node, choices: Sequence[str]) -> str | None:
        value = node.value
        if isinstance(value, str) and value in choices:
            return value
        guess = did_you_mean(str(value), choices) if isinstance(value, str) else None
        valid = f"valid values: {', '.join(choices)}"
        self.error(
            node, f"invalid {node.path} {value!r}", f"did you mean {guess!r}? {valid}" if guess else valid
        )
        return None

    def reference(self, node: Node, names: Sequence[str], what: str, where: str) -> str | None:
        """A name that must be one of `names` (`what` it names, defined `where`)."""
        value = self.string(node)
        if value is None:
            return None
        if value in names:
            return value
        guess = did_you_mean(value, names)
        if guess:
            hint = f"did you mean {guess!r}?"
        elif names:
            hint = f"defined {what}s: {', '.join(names)}"
        else:
            hint = f"no {what}s are defined under {where}:"
        self.error(node, f"unknown {what} {value!r}", hint)
        return None
