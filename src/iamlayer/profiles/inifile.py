"""Edit an AWS INI file (config or credentials) changing only the sections iamlayer owns.

An owned section is marked by a comment line right above its header:

    # managed by iamlayer (acme)
    [profile acme-apps-prd-devops]
    role_arn = ...

Everything else in the file (hand-written sections, comments, blank lines, order, line endings,
even bytes that are not UTF-8) is kept exactly. An owned section runs from its marker to the next
section header; comment lines at its end are left to the section that follows them, since that is
where a person writes them. Keys a person adds inside an owned section are replaced on the next
run: the marker says so.

`merge` is pure; `sync_file` adds the file handling: no write when nothing changed, a `.bak` copy
of the previous content otherwise, and an atomic write with mode 0600.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from iamlayer.files import write_private_file
from iamlayer.profiles.render import Section

_HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*$")


def marker(project: str) -> str:
    """The comment line that marks a section as owned by iamlayer for `project`."""
    return f"# managed by iamlayer ({project})"


@dataclass(frozen=True)
class MergeResult:
    """The new text and what changed, by section header."""

    text: str
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    adopted: tuple[str, ...] = ()  # hand-written sections with a name iamlayer renders, now owned

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.adopted)


@dataclass
class _Block:
    """A run of lines: foreign (kept as is) or one section (owned by us or not)."""

    lines: list[str]
    header: str | None = None  # section name, for section blocks
    owned: bool = False


def owned_sections(text: str) -> set[str]:
    """The headers of the sections marked as iamlayer's own, for any project."""
    prefix = marker("")[:-1]  # "# managed by iamlayer ("
    lines = text.splitlines()
    return {
        header
        for line, nxt in itertools.pairwise(lines)
        if line.strip().startswith(prefix) and (header := _header_of(nxt)) is not None
    }


def _header_of(line: str) -> str | None:
    m = _HEADER.match(line.lstrip("\ufeff"))
    return m.group(1) if m else None


def _is_comment(line: str) -> bool:
    s = line.strip()
    return s.startswith("#") or s.startswith(";")


def _is_marker(lines: list[str], i: int, mark: str) -> bool:
    return lines[i].strip() == mark and i + 1 < len(lines) and _header_of(lines[i + 1]) is not None


def _parse(text: str, mark: str) -> list[_Block]:
    """Split `text` into the preamble, section blocks and the comment runs between sections."""
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines) and _header_of(lines[i]) is None and not _is_marker(lines, i, mark):
        i += 1
    blocks: list[_Block] = [_Block(lines[:i])]
    while i < len(lines):
        start = i
        owned = _is_marker(lines, i, mark)
        i += 2 if owned else 1
        header = _header_of(lines[i - 1])
        while i < len(lines) and _header_of(lines[i]) is None and not _is_marker(lines, i, mark):
            i += 1
        body = lines[start:i]
        # Comments after a section's last key (and the blank lines after them) belong to whatever
        # follows: that is where a person writes them. One blank line after the keys stays.
        cut = 2 if owned else 1
        for k in range(cut, len(body)):
            if body[k].strip() and not _is_comment(body[k]):
                cut = k + 1
        if cut < len(body) and not body[cut].strip():
            cut += 1  # the one blank line we write after a section; any more are the person's
        blocks.append(_Block(body[:cut], header=header, owned=owned))
        blocks.append(_Block(body[cut:]))
    return [b for b in blocks if b.lines]


def render_section(section: Section, project: str, newline: str = "\n") -> str:
    """An owned section as text: marker, header, `key = value` lines and one blank line."""
    lines = [marker(project), f"[{section.header}]", *(f"{k} = {v}" for k, v in section.items), ""]
    return newline.join(lines) + newline


def merge(text: str, project: str, sections: tuple[Section, ...] | list[Section]) -> MergeResult:
    """Return `text` with `project`'s owned sections replaced by `sections` (pure).

    Owned sections that are rendered again are replaced in place; owned sections no longer rendered
    are removed; new ones go right after the last owned section (or at the end). A hand-written
    section with the name of a rendered one is taken over in place (two sections with one name
    would make botocore refuse the whole file).
    """
    mark = marker(project)
    newline = "\r\n" if text.count("\r\n") > text.count("\n") // 2 and "\r\n" in text else "\n"
    wanted = {s.header: s for s in sections}
    blocks = _parse(text, mark)
    out: list[str] = []
    done: set[str] = set()
    added: list[str] = []
    updated: list[str] = []
    removed: list[str] = []
    adopted: list[str] = []
    last_owned = -1
    for block in blocks:
        name = block.header
        old = "".join(block.lines)
        if name is not None and name in wanted and name not in done:
            new = render_section(wanted[name], project, newline)
            if not block.owned:
                adopted.append(name)
            elif new != old:
                updated.append(name)
            out.append(new)
            done.add(name)
            last_owned = len(out)
        elif block.owned:
            # An owned section no longer rendered, or a duplicate of one already written.
            removed.append(name or "")
        else:
            out.append(old)
    missing = [s for s in sections if s.header not in done]
    if missing:
        new_text = "".join(render_section(s, project, newline) for s in missing)
        added.extend(s.header for s in missing)
        if last_owned >= 0:
            out.insert(last_owned, new_text)
        else:
            if out and not out[-1].endswith(("\n", "\r")):
                out.append(newline)
            if out and "".join(out).strip() and not "".join(out).endswith(newline * 2):
                out.append(newline)  # a blank line between a person's last section and ours
            out.append(new_text)
    return MergeResult(
        text="".join(out),
        added=tuple(added),
        updated=tuple(updated),
        removed=tuple(removed),
        adopted=tuple(adopted),
    )


@dataclass(frozen=True)
class FileChange:
    """What `sync_file` did to one file."""

    path: Path
    changed: bool
    backup: Path | None
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    adopted: tuple[str, ...] = field(default_factory=tuple)


def sync_file(path: Path, project: str, sections: tuple[Section, ...] | list[Section]) -> FileChange:
    """Bring `path` to the rendered `sections`, touching nothing else (see `merge`).

    When the content is already right the file is not rewritten (its bytes and mtime stay). When it
    changes, the previous content is kept in `<path>.bak` (mode 0600: it may hold a key) and the new
    content written atomically with mode 0600. Missing folders are created with mode 0700.
    """
    try:
        raw = path.read_bytes()
        exists = True
    except FileNotFoundError:
        raw, exists = b"", False
    # surrogateescape round-trips bytes that are not UTF-8, so a person's file is never mangled.
    text = raw.decode("utf-8", errors="surrogateescape")
    result = merge(text, project, sections)
    new = result.text.encode("utf-8", errors="surrogateescape")
    if exists and new == raw:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            # Group/other access to a file holding keys is a leak; tightening it is not a rewrite.
            os.chmod(path, mode & 0o700)
        return FileChange(path, changed=False, backup=None)
    backup: Path | None = None
    if exists:
        backup = path.with_name(path.name + ".bak")
        write_private_file(backup, raw)
    write_private_file(path, new)
    return FileChange(
        path,
        changed=True,
        backup=backup,
        added=result.added,
        updated=result.updated,
        removed=result.removed,
        adopted=result.adopted,
    )
