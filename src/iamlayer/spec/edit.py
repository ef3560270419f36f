"""Edit a spec file in place without disturbing what people wrote in it.

`update_accounts` records account ids (e.g. discovered from an AWS Organization, or created by
the sandbox) in the `accounts:` block. It edits only the id values and appends new accounts, by
text position taken from the YAML parser, so comments, quoting, flow mappings and the order of
everything else stay byte-for-byte. Only when the block cannot be edited that way (a flow-style
or empty `accounts:`) does it fall back to a ruamel.yaml round-trip dump, which keeps comments and
keys but may re-wrap long flow mappings.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from iamlayer.errors import Diagnostic, IamlayerError, SpecError
from iamlayer.files import write_atomic
from iamlayer.spec.load import parse_yaml

if TYPE_CHECKING:
    from iamlayer.aws.org import OrgAccount

_SCALAR_TOKEN = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s,}\]#]+""")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_ACCOUNT_ID = re.compile(r"\d{12}")


_INVALID = re.compile(r"[^A-Za-z0-9_.-]+")


def account_name(org_name: str, prefix: str) -> str:
    """A spec account name from an organization account name: `acme-corp-apps-prd` -> `apps-prd`."""
    name = org_name.strip()
    if prefix and name.lower().startswith(prefix.lower() + "-") and len(name) > len(prefix) + 1:
        name = name[len(prefix) + 1 :]
    name = _INVALID.sub("-", name.lower()).strip("-._")
    return name[:63] or "account"


def plan_accounts(existing: dict[str, str], found: Sequence[OrgAccount], prefix: str) -> dict[str, str]:
    """name -> id to write: known ids keep their spec name; new ones get a name that is free."""
    by_id = {v: k for k, v in existing.items()}
    out: dict[str, str] = {}
    taken = set(existing)
    for acc in found:
        if acc.status and acc.status != "ACTIVE":
            continue
        if acc.id in by_id:
            out[by_id[acc.id]] = acc.id
            continue
        base = account_name(acc.name, prefix)
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        out[name] = acc.id
    return out


def spec_accounts(data: Any) -> dict[str, str]:
    """The `accounts:` block of a parsed spec as name -> 12-digit id (whatever else is wrong)."""
    accounts = data.get("accounts") if isinstance(data, dict) else None
    out: dict[str, str] = {}
    for name, v in (accounts or {}).items():
        acc_id = v.get("id") if isinstance(v, dict) else None
        if acc_id is not None:
            out[str(name)] = (_normalise_id(acc_id) or str(acc_id)).zfill(12)
    return out


def update_accounts(spec_path: Path, accounts: dict[str, str]) -> bool:
    """Set `accounts.<name>.id` for each entry, adding missing accounts; True if the file changed.

    Accounts already in the spec but absent from `accounts` are kept, with every per-account
    field (alias, password_policy, profile). Raises SpecError when the file is not valid YAML,
    IamlayerError when an id is not 12 digits.
    """
    for name, account_id in accounts.items():
        if not _ACCOUNT_ID.fullmatch(account_id):
            raise IamlayerError(f"account {name}: {account_id!r} is not a 12-digit AWS account id")
    text = spec_path.read_text(encoding="utf-8")
    parse_yaml(text, str(spec_path))  # what is wrong with it, said as `validate` says it
    data = round_trip_tree(text, str(spec_path))
    if not isinstance(data, CommentedMap):
        raise IamlayerError(f"{spec_path}: the spec is not a mapping; cannot update accounts")

    block = data.get("accounts")
    if isinstance(block, CommentedMap) and len(block) > 0 and not block.fa.flow_style():
        new_text = _edit_in_place(text, data, block, accounts)
    else:
        new_text = _round_trip(data, accounts)
    if new_text is None or new_text == text:
        return False
    _check_result(new_text, spec_path, accounts)
    _write_atomic(spec_path, new_text)
    return True


def round_trip_tree(text: str, file: str) -> Any:
    """ruamel.yaml's round-trip tree: text positions of every key and value, comments, styles.
    Only this editor needs it; every reader of a spec uses the C-speed loader (spec.load)."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(p for p in (e.context, e.problem) if p) or "invalid YAML"
        line = mark.line + 1 if mark is not None else None
        raise SpecError([Diagnostic(file, line, "", f"YAML syntax error: {problem}")]) from None


def _edit_in_place(
    text: str, top: CommentedMap, block: CommentedMap, accounts: Mapping[str, str]
) -> str | None:
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []  # line, start col, end col, replacement
    missing: dict[str, str] = {}
    for name, account_id in accounts.items():
        entry = block.get(name)
        if not isinstance(entry, CommentedMap):
            if name in block:
                # `name:` with no mapping (or a scalar): rewritten through the fallback path.
                return None
            missing[name] = account_id
            continue
        if "id" not in entry:
            return None
        if _normalise_id(entry["id"]) == account_id:
            continue
        line, col = entry.lc.value("id")
        token = _SCALAR_TOKEN.match(lines[line], col)
        if token is None:
            return None
        edits.append((line, col, token.end(), f'"{account_id}"'))
    for line, start, end, replacement in sorted(edits, reverse=True):
        lines[line] = lines[line][:start] + replacement + lines[line][end:]
    if missing:
        indent = block.lc.key(next(iter(block)))[1]
        at = _end_of_block(lines, top, "accounts")
        if at > 0 and not lines[at - 1].endswith("\n"):
            lines[at - 1] += "\n"
        added = [f'{" " * indent}{_yaml_key(name)}: {{id: "{aid}"}}\n' for name, aid in missing.items()]
        lines[at:at] = added
    return "".join(lines)


def _end_of_block(lines: list[str], top: CommentedMap, key: str) -> int:
    """Index of the line after the last content line of top-level `key`'s block."""
    keys = list(top)
    following = keys[keys.index(key) + 1 :]
    end = top.lc.key(following[0])[0] if following else len(lines)
    while end > 0 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


def _round_trip(data: CommentedMap, accounts: Mapping[str, str]) -> str | None:
    block = data.get("accounts")
    if not isinstance(block, CommentedMap):
        block = CommentedMap()
        data["accounts"] = block
    changed = False
    for name, account_id in accounts.items():
        entry = block.get(name)
        if isinstance(entry, CommentedMap):
            if _normalise_id(entry.get("id")) != account_id:
                entry["id"] = DoubleQuotedScalarString(account_id)
                changed = True
        else:
            new = CommentedMap(id=DoubleQuotedScalarString(account_id))
            new.fa.set_flow_style()
            block[name] = new
            changed = True
    if not changed:
        return None
    return _dump(data)


def _dump(data: CommentedMap) -> str:
    """The round-trip tree as text: quotes and flow styles as they were, long lines not wrapped."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _normalise_id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        width = getattr(value, "_width", None) or 0
        return str(int(value)).zfill(width)
    return str(value)


def _yaml_key(name: str) -> str:
    return name if _PLAIN_NAME.fullmatch(name) else json.dumps(name)


def _check_result(new_text: str, spec_path: Path, accounts: Mapping[str, str]) -> None:
    """Re-read the edited text: every requested id must be there, or nothing is written."""
    try:
        data = YAML(typ="rt").load(new_text)
    except YAMLError as e:  # a bug in the editing above, never the user's input
        raise IamlayerError(
            f"{spec_path}: updating accounts would produce invalid YAML ({e}); file left as is"
        ) from e
    block = data.get("accounts") if isinstance(data, Mapping) else None
    for name, account_id in accounts.items():
        entry = block.get(name) if isinstance(block, Mapping) else None
        got = _normalise_id(entry.get("id")) if isinstance(entry, Mapping) else None
        if got != account_id:
            raise IamlayerError(
                f"{spec_path}: could not record account {name} = {account_id}; file left as is"
            )


def _write_atomic(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"), path.stat().st_mode & 0o777)


def without_person(text: str, file: str, user: str, entry: Mapping[str, Any]) -> str:
    """The spec text with `user` gone and `entry` appended to `offboarded:` (made if missing).

    Gone: `users.<user>`, the grants to them, and (when iamlayer makes them) their Identity
    Center user, group memberships and own assignments. A round-trip of ruamel.yaml keeps
    comments, keys and styles; long flow mappings may be re-wrapped. Nothing is written: the caller
    validates the result first (iamlayer.offboard).
    """
    data = round_trip_tree(text, file)
    if not isinstance(data, CommentedMap):
        raise SpecError([Diagnostic(file, None, "", "the spec is not a mapping")])
    users = data.get("users")
    if isinstance(users, CommentedMap):
        users.pop(user, None)
    grants = data.get("grants")
    if isinstance(grants, list):
        grants[:] = [g for g in grants if not (isinstance(g, Mapping) and g.get("who") == user)]
        if not grants:
            del data["grants"]
    ic = data.get("identity_center")
    if isinstance(ic, CommentedMap):
        _without_ic_user(ic, user)
    found = data.get("offboarded")
    if not isinstance(found, list):
        found = CommentedSeq()
        data["offboarded"] = found
    new = CommentedMap(entry)
    new.fa.set_flow_style()
    for key in ("roles", "permission_sets"):
        if isinstance(new.get(key), list):
            seq = CommentedSeq(new[key])
            seq.fa.set_flow_style()
            new[key] = seq
    found.append(new)
    return _dump(data)


def _without_ic_user(ic: CommentedMap, user: str) -> None:
    """Identity Center user `user` gone from `ic`, unless an external provider owns them: then
    only the provider can remove them, and their assignments stay until it does."""
    users = ic.get("users")
    declared = users.get(user) if isinstance(users, Mapping) else None
    if isinstance(declared, Mapping) and declared.get("external"):
        return
    if isinstance(users, CommentedMap):
        users.pop(user, None)
    for group in (ic.get("groups") or {}).values():
        members = group.get("members") if isinstance(group, Mapping) else None
        if isinstance(members, list) and user in members:
            members.remove(user)
    assignments = ic.get("assignments")
    if isinstance(assignments, list):
        assignments[:] = [a for a in assignments if not (isinstance(a, Mapping) and a.get("user") == user)]


def write_spec_text(path: Path, text: str) -> None:
    """Replace the spec file's text atomically, keeping its mode."""
    _write_atomic(path, text)
