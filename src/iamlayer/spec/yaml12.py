"""YAML 1.2 at C speed, with the line of every key and list item.

PyYAML's C parser (libyaml) scans, parses and composes the document into nodes that carry their
position; this module turns the nodes into plain dicts and lists that remember the 1-based line
of each key (`LineMap.key_lines`) and item (`LineList.item_lines`), for `iamlayer.spec.nodes`.

Scalars mean what they meant when specs were read with ruamel.yaml's round-trip loader, which is
YAML 1.2 (PyYAML's own resolver is YAML 1.1, where `on`, `off`, `yes` and `no` are booleans, and
checks' `on:` key would become True):

- booleans are only true/false (also True, TRUE, False, FALSE); `on`, `yes`, `no`... are strings;
- null is `~`, `null` (Null, NULL) or nothing;
- integers: decimal, 0x hex, 0o octal, 0b binary, `_` separators allowed; a decimal written with
  a leading zero (an account id such as 012345678901) is an int that remembers how many digits
  were written (`_width`), so the zero can be put back;
- floats as YAML 1.2 writes them, with .inf and .nan; `1:30` is a string (no sexagesimals);
- dates and timestamps (an unquoted 2012-10-17) are datetime.date/datetime;
- `<<` merges mappings; anchors and aliases work; a key may appear only once in a mapping.

Errors raise YamlError with the 1-based line (and what libyaml said), never a traceback.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:  # libyaml, as PyYAML's wheels ship it
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - a PyYAML built without libyaml: same results, slower
    _Base = yaml.SafeLoader

_TAG = "tag:yaml.org,2002:"
STR, BOOL, INT, FLOAT, NULL, TIMESTAMP, MERGE, SEQ, MAP = (
    _TAG + t for t in ("str", "bool", "int", "float", "null", "timestamp", "merge", "seq", "map")
)


class YamlError(Exception):
    """The text is not valid YAML (or repeats a key): where, and what is wrong."""

    def __init__(self, line: int | None, problem: str, *, duplicate: bool = False) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem
        self.duplicate = duplicate


class LineMap(dict[Any, Any]):
    """A mapping that knows the line of each of its keys."""

    __slots__ = ("key_lines",)

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[Any, int] = {}


class LineList(list[Any]):
    """A list that knows the line of each of its items."""

    __slots__ = ("item_lines",)

    def __init__(self) -> None:
        super().__init__()
        self.item_lines: list[int] = []


class WrittenInt(int):
    """An integer written with leading zeros: `_width` is how many digits were written."""

    _width: int


class _Loader(_Base):  # type: ignore[misc]
    """PyYAML's loader with YAML 1.2's implicit types instead of YAML 1.1's.

    The C composer calls these three for every node; PyYAML's own versions also serve path
    resolvers (unused here) and cost a third of a 5,000-user spec's load.
    """

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's class-level registry

    def resolve(self, kind: Any, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                for tag, pattern in self.yaml_implicit_resolvers.get(value[:1], ()):
                    if pattern.match(value):
                        return str(tag)
            return STR
        return SEQ if kind is SequenceNode else MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


# The patterns ruamel.yaml's round-trip loader resolves YAML 1.2 plain scalars with (so a spec
# means what it meant before), by first character as PyYAML looks them up.
for _tag, _pattern, _first in (
    (BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (
        INT,
        r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$",
        "-+0123456789",
    ),
    (
        FLOAT,
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        "-+0123456789.",
    ),
    (NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (
        TIMESTAMP,
        r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
        (?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
        "0123456789",
    ),
    (MERGE, r"^(?:<<)$", "<"),
):
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern, re.X), list(_first))


def load(text: str) -> Any:
    """The data in `text` (None for an empty document), with lines; YamlError when invalid."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(p for p in (e.context, e.problem) if p) or "invalid YAML"
        if e.problem_mark is not None and _tab_at(text, e.problem_mark.line, e.problem_mark.column):
            problem += " (a tab: YAML indents with spaces only)"  # libyaml does not say which character
        raise YamlError(mark.line + 1 if mark is not None else None, problem) from None
    except yaml.YAMLError as e:
        raise YamlError(None, str(e)) from None
    finally:
        loader.dispose()
    return None if node is None else _Builder().build(node)


def _tab_at(text: str, line: int, column: int) -> bool:
    lines = text.splitlines()
    return 0 <= line < len(lines) and lines[line][column : column + 1] == "\t"


class _Builder:
    """Nodes to plain data; an alias is built once (the same object wherever it is used)."""

    def __init__(self) -> None:
        self.built: dict[int, Any] = {}

    def build(self, node: Node) -> Any:
        done = self.built.get(id(node))
        if done is not None:
            return done
        if isinstance(node, ScalarNode):
            return _scalar(node)
        if isinstance(node, SequenceNode):
            seq = LineList()
            self.built[id(node)] = seq
            for item in node.value:
                seq.append(self.build(item))
                seq.item_lines.append(item.start_mark.line + 1)
            return seq
        assert isinstance(node, MappingNode)
        mapping = LineMap()
        self.built[id(node)] = mapping
        merges: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                merges.append((key_node, value_node))
                continue
            key = self.build(key_node)
            line = key_node.start_mark.line + 1
            try:
                seen = key in mapping
            except TypeError:  # a list or mapping as a key (`? [a, b]`)
                raise YamlError(line, "a mapping key must be a plain value, not a list or mapping") from None
            if seen:
                raise YamlError(
                    line,
                    f"duplicate key {key!r} (first at line {mapping.key_lines[key]})",
                    duplicate=True,
                )
            mapping[key] = self.build(value_node)
            mapping.key_lines[key] = line
        # `<<: *base` (or a list of them): keys written in the mapping itself win, as YAML says.
        for key_node, value_node in merges:
            line = key_node.start_mark.line + 1
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                merged = self.build(source)
                if not isinstance(merged, dict):
                    raise YamlError(line, "`<<` merges mappings only: give it an alias to a mapping")
                for key, value in merged.items():
                    if key not in mapping:
                        mapping[key] = value
                        mapping.key_lines[key] = line
        return mapping


def _scalar(node: ScalarNode) -> Any:
    text: str = node.value
    tag = node.tag
    line = node.start_mark.line + 1
    try:
        if tag == BOOL:
            return text.lower() == "true"
        if tag == NULL:
            return None
        if tag == INT:
            return _int(text)
        if tag == FLOAT:
            return _float(text)
        if tag == TIMESTAMP:
            return _timestamp(text)
    except ValueError:
        raise YamlError(line, f"{text!r} is not a valid {tag.removeprefix(_TAG)}") from None
    return text  # str, and any tag iamlayer gives no meaning to


def _int(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("-+").replace("_", "")
    if digits[:2] in ("0x", "0X"):
        return sign * int(digits[2:], 16)
    if digits[:2] in ("0o", "0O"):
        return sign * int(digits[2:], 8)
    if digits[:2] in ("0b", "0B"):
        return sign * int(digits[2:], 2)
    value = sign * int(digits, 10)
    if digits.startswith("0"):
        written = WrittenInt(value)
        written._width = len(digits)
        return written
    return value


def _float(text: str) -> float:
    t = text.replace("_", "").lower()
    if t.lstrip("-+") == ".inf":
        return float("-inf") if t.startswith("-") else float("inf")
    if t == ".nan":
        return float("nan")
    return float(t)


_TIMESTAMP = re.compile(
    r"""^(?P<year>[0-9][0-9][0-9][0-9])-(?P<month>[0-9][0-9]?)-(?P<day>[0-9][0-9]?)
    (?:(?:[Tt]|[ \t]+)(?P<hour>[0-9][0-9]?):(?P<minute>[0-9][0-9]):(?P<second>[0-9][0-9])
    (?:\.(?P<fraction>[0-9]*))?
    (?:[ \t]*(?P<tz>Z|(?P<tz_sign>[-+])(?P<tz_hour>[0-9][0-9]?)(?::(?P<tz_minute>[0-9][0-9]))?))?)?$""",
    re.X,
)


def _timestamp(text: str) -> datetime.date | datetime.datetime:
    m = _TIMESTAMP.match(text)
    if m is None:
        raise ValueError(text)
    year, month, day = int(m["year"]), int(m["month"]), int(m["day"])
    if m["hour"] is None:
        return datetime.date(year, month, day)
    fraction = int((m["fraction"] or "0")[:6].ljust(6, "0"))
    tz: datetime.tzinfo | None = None
    if m["tz"] == "Z":
        tz = datetime.UTC
    elif m["tz"]:
        offset = datetime.timedelta(hours=int(m["tz_hour"]), minutes=int(m["tz_minute"] or 0))
        tz = datetime.timezone(-offset if m["tz_sign"] == "-" else offset)
    return datetime.datetime(
        year, month, day, int(m["hour"]), int(m["minute"]), int(m["second"]), fraction, tzinfo=tz
    )
