"""Write a migration proposal into the spec's text, leaving every other byte as it was.

The Identity Center entries are inserted at the end of their blocks under `identity_center:`
(the block is appended when the spec has none), and `entitled:` is added to each role's entry
(before the closing brace of a flow mapping, or as the last line of a block one), by text
positions from ruamel.yaml's round-trip parser: comments, quoting and layout stay as people
wrote them, so `--diff` shows only what the move adds. What cannot be edited that way (a block
written in flow style, a role that already has `entitled:` in flow style) is an error naming it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from iamlayer.errors import IamlayerError
from iamlayer.importer.writer import block, flow, scalar
from iamlayer.migrate.proposal import Proposal
from iamlayer.spec.edit import round_trip_tree

SECTIONS = ("users", "groups", "permission_sets", "assignments")


def _is_flow(node: Any) -> bool:
    fa = getattr(node, "fa", None)
    return bool(fa is not None and fa.flow_style())


def _end(lines: list[str], parent: CommentedMap, key: str, parent_end: int) -> int:
    """The index of the line after the last content line of `key`'s value in `parent`."""
    keys = list(parent)
    following = keys[keys.index(key) + 1 :]
    end = parent.lc.key(following[0])[0] if following else parent_end
    while end > 0 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


class _Edits:
    """Text edits of the spec, by position: lines inserted before a line (applied bottom-up), and
    text inserted at a column."""

    def __init__(self, lines: list[str], file: str) -> None:
        self.lines, self.file = lines, file
        #: (line, 1 for a new section at the end of its block else 0, lines): see apply_proposal
        self.inserts: list[tuple[int, int, list[str]]] = []
        self.columns: list[tuple[int, int, str]] = []

    def add_items(
        self, parent: CommentedMap, key: str, parent_end: int, field: str, items: list[str], where: str
    ) -> None:
        """`items` appended to the list `field` of the mapping `parent[key]` (made when absent),
        in the style it is written in."""
        lines, entry = self.lines, parent[key]
        where = f"{where} ({self.file}:{parent.lc.key(key)[0] + 1})"
        if not isinstance(entry, CommentedMap):
            raise IamlayerError(f"{where} is not a mapping: add {field}: {flow(items)} by hand")
        if field in entry:
            have = entry[field]
            if not isinstance(have, CommentedSeq) or not have:
                raise IamlayerError(f"{where}: add {flow(items)} to its {field}: by hand")
            if _is_flow(have):
                end_line, end_col = _closing_brace(lines, *entry.lc.value(field))
                self.columns.append((end_line, end_col, ", " + ", ".join(scalar(i) for i in items)))
                return
            indent = max(have.lc.item(0)[1] - 2, 0)  # the column of "- ", before the item
            at = _end(lines, entry, field, _end(lines, parent, key, parent_end))
            self.inserts.append((at, 0, [f"{' ' * indent}- {scalar(i)}" for i in items]))
        elif _is_flow(entry):
            end_line, end_col = _closing_brace(lines, *parent.lc.value(key))
            self.columns.append((end_line, end_col, (", " if entry else "") + f"{field}: {flow(items)}"))
        else:
            indent = entry.lc.key(next(iter(entry)))[1]
            self.inserts.append(
                (_end(lines, parent, key, parent_end), 0, [f"{' ' * indent}{field}: {flow(items)}"])
            )


_TOP_KEY = re.compile(r"([A-Za-z_][\w.-]*)[ \t]*:(?:[ \t]|$)")


def _top_level_blocks(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Top-level key -> (its line, the line after its last content line), for a spec whose top
    mapping is in block style (its keys at column 0)."""
    starts = [(i, m.group(1)) for i, line in enumerate(lines) if (m := _TOP_KEY.match(line))]
    out: dict[str, tuple[int, int]] = {}
    for n, (start, key) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
            end -= 1
        out[key] = (start, end)
    return out


def _only(lines: list[str], blocks: dict[str, tuple[int, int]], keys: tuple[str, ...]) -> str:
    """The text with every line outside the top-level blocks `keys` emptied: the round-trip
    parser (slow: 3 s for 500 users) reads only what is edited, at the same line numbers."""
    kept = [""] * len(lines)
    for key in keys:
        if key in blocks:
            start, end = blocks[key]
            kept[start:end] = lines[start:end]
    return "\n".join(kept) + "\n"


def _entries(proposal: Proposal, section: str, indent: int) -> list[str]:
    pad = " " * indent
    if section == "assignments":
        return [f"{pad}- {flow(item)}" for item in proposal.assignments]
    out: list[str] = []
    values: dict[str, dict[str, Any]] = getattr(proposal, section)
    for name, value in values.items():
        one = f"{pad}{scalar(name)}: {flow(value)}"
        if section == "permission_sets" and len(one) > 120:
            out += [f"{pad}{scalar(name)}:", *block(value, indent + 2)]
        else:
            out.append(one)
    return out


def _section_has(proposal: Proposal, section: str) -> bool:
    return bool(getattr(proposal, section))


def _closing_brace(lines: list[str], line: int, col: int) -> tuple[int, int]:
    """Where the flow mapping opening at (line, col) closes: brackets counted, quotes skipped."""
    depth, quote = 0, ""
    for i in range(line, len(lines)):
        text = lines[i]
        j = col if i == line else 0
        while j < len(text):
            c = text[j]
            if quote:
                if c == quote and not (quote == '"' and text[j - 1] == "\\"):
                    quote = ""
            elif c in "\"'":
                quote = c
            elif c == "#" and (j == 0 or text[j - 1] in " \t"):
                break
            elif c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if depth == 0:
                    return i, j
            j += 1
    raise IamlayerError(f"cannot find the end of the flow mapping at line {line + 1}")


def apply_proposal(text: str, file: str, proposal: Proposal, *, ic_account: str | None) -> str:
    """`text` (the spec) with `proposal` written in. `ic_account`: the `account:` of a new
    `identity_center:` block (None: the spec's default, its management account)."""
    lines = text.splitlines()
    blocks = _top_level_blocks(lines)
    top = round_trip_tree(_only(lines, blocks, ("roles", "identity_center")), file)
    edits = _Edits(lines, file)
    roles = top.get("roles") if isinstance(top, CommentedMap) else None
    roles_end = blocks["roles"][1] if "roles" in blocks else len(lines)
    for key, principals in proposal.entitled.items():
        if not isinstance(roles, CommentedMap) or key not in roles:
            raise IamlayerError(f"role {key} is not under roles: in {file}")
        edits.add_items(roles, key, roles_end, "entitled", principals, f"roles.{key}")
    inserts, column_edits = edits.inserts, edits.columns

    ic = top.get("identity_center") if isinstance(top, CommentedMap) else None
    wanted = [s for s in SECTIONS if _section_has(proposal, s)]
    if proposal.members:
        groups = ic.get("groups") if isinstance(ic, CommentedMap) else None
        if not isinstance(groups, CommentedMap):
            raise IamlayerError(f"identity_center.groups in {file} is not a mapping: add the members by hand")
        assert isinstance(ic, CommentedMap)  # it has the groups the proposal adds members to
        groups_end = _end(lines, ic, "groups", blocks["identity_center"][1])
        for group, members in proposal.members.items():
            edits.add_items(groups, group, groups_end, "members", members, f"identity_center.groups.{group}")
    if ic is None and wanted:
        new = [
            "",
            "# IAM Identity Center: the people of the IAM users above, proposed by",
            "# `iamlayer migrate identity-center`. Both layers run side by side until the IAM users retire.",
            "identity_center:",
        ]
        if ic_account:
            new.append(f"  account: {scalar(ic_account)}")
        for section in wanted:
            new += [f"  {section}:", *_entries(proposal, section, 4)]
        inserts.append((len(lines), 1, new))
    elif wanted:
        if not isinstance(ic, CommentedMap) or _is_flow(ic):
            raise IamlayerError(
                f"identity_center: in {file} is not a block mapping: write it as one to migrate into it"
            )
        ic_end = blocks["identity_center"][1]
        ic_indent = ic.lc.key(next(iter(ic)))[1] if ic else 2
        for section in wanted:
            if section not in ic or ic[section] is None:
                if section in ic:
                    raise IamlayerError(
                        f"identity_center.{section} in {file} is empty: remove the key to migrate"
                    )
                inserts.append(
                    (ic_end, 1, [f"{' ' * ic_indent}{section}:", *_entries(proposal, section, ic_indent + 2)])
                )
                continue
            value = ic[section]
            if _is_flow(value) or not value:
                raise IamlayerError(
                    f"identity_center.{section} in {file} is in flow style: write it as a block to migrate into it"
                )
            indent = (
                value.lc.item(0)[1] if isinstance(value, CommentedSeq) else value.lc.key(next(iter(value)))[1]
            )
            if isinstance(value, CommentedSeq):
                indent = max(indent - 2, 0)  # the column of the item's content, past "- "
            inserts.append((_end(lines, ic, section, ic_end), 0, _entries(proposal, section, indent)))

    for line, col, added in sorted(column_edits, reverse=True):
        lines[line] = lines[line][:col] + added + lines[line][col:]
    # Bottom-up. Of inserts at one line, the first applied ends lowest: new sections (after the
    # entries added to a block that ends there), and of those the later first, so all read in order.
    for at, _, _, new_lines in sorted(
        ((at, new_section, i, new) for i, (at, new_section, new) in enumerate(inserts)), reverse=True
    ):
        lines[at:at] = new_lines
    return "\n".join(lines) + "\n"


def unified(before: str, after: str, name: str) -> str:
    """The unified diff from `before` to `after`, both named after `name`."""
    import difflib

    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}"
        )
    )


__all__: Sequence[str] = ("apply_proposal", "unified")
