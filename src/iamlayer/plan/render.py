"""Show a plan: Terraform-like text for people (`render_plan`, `render_stats`).

The JSON document for machines is `plan_to_json` in iamlayer.plan.model (re-exported here); plan
files on disk are iamlayer.plan.planfile.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from iamlayer.kinds import spec_of
from iamlayer.plan.model import AccountPlan, Action, Change, Plan, plan_from_json, plan_to_json

__all__ = [
    "only_adoption",
    "plan_from_json",
    "plan_to_json",
    "render_access",
    "render_account",
    "render_plan",
    "render_stats",
]


_COLORS = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.DELETE: "red", Action.ADOPT: "cyan"}


def _summary(counts: dict[str, int]) -> str:
    text = f"{counts['create']} to add, {counts['update']} to change, {counts['delete']} to destroy"
    return text + (f", {counts['adopt']} to adopt." if counts.get("adopt") else ".")


def only_adoption(plan: Plan) -> bool:
    """True when the plan adopts existing resources and changes nothing else."""
    return bool(plan.changes) and all(c.action is Action.ADOPT for c in plan.changes)


def _pretty(v: Any) -> str:
    """A value on one line; only policy documents get the multi-line treatment."""
    return json.dumps(v, separators=(", ", ": "))


def _doc_diff(before: Any, after: Any, indent: str) -> list[str]:
    a = json.dumps(before, indent=2).splitlines() if before is not None else []
    b = json.dumps(after, indent=2).splitlines() if after is not None else []
    out = []
    for line in difflib.unified_diff(a, b, lineterm="", n=3):
        if line.startswith(("---", "+++", "@@")):
            continue
        color = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
        out.append(f"{indent}[{color}]{_esc(line)}[/]")
    return out


def _esc(s: str) -> str:
    return s.replace("[", "\\[")


def _fields(change: Change, indent: str) -> list[str]:
    b, a = change.before or {}, change.after or {}
    lines: list[str] = []
    if change.action is Action.ADOPT:
        marker = a.get("tags") or {"marker policy": a.get("marker")}
        lines.append(f"{indent}ownership marker: {_esc(_pretty(marker))}")
    elif change.action is Action.CREATE:
        for k, v in a.items():
            if k in ("document", "trust") or (k == "inline_policy" and v is not None):
                lines.append(f"{indent}{k}:")
                lines += [f"{indent}  [green]+ {_esc(x)}[/]" for x in json.dumps(v, indent=2).splitlines()]
            elif v not in (None, "", {}, []):
                lines.append(f"{indent}{k}: {_esc(_pretty(v))}")
    elif change.action is Action.UPDATE:
        for k in sorted(set(a) | set(b)):
            if k in ("document", "trust", "inline_policy"):
                lines.append(f"{indent}{k}:")
                lines += _doc_diff(b.get(k), a.get(k), indent + "  ")
            elif k in spec_of(change.address.kind).carried:
                continue  # for its handler, not a difference (iamlayer.kinds)
            elif b.get(k) != a.get(k):
                lines.append(f"{indent}{k}: {_esc(_pretty(b.get(k)))} -> {_esc(_pretty(a.get(k)))}")
    else:
        for k, v in b.items():
            if k == "document":
                continue
            if v not in (None, "", {}, [], False):
                lines.append(f"{indent}[red]- {k}: {_esc(_pretty(v))}[/]")
    return lines


def render_account(ap: AccountPlan, *, detail: bool = True) -> list[str]:
    head = f"[bold]Account {ap.account}[/] ({ap.account_id})"
    if ap.via:
        head += f" via {_esc(ap.via)}"
    if ap.api_calls:
        head += f" [dim]- {ap.api_calls} API calls[/]"
    lines = [head]
    if ap.error:
        lines.append(f"  [red]Error: {_esc(ap.error)}[/]")
    for n in ap.notices:
        lines.append(f"  [yellow]Note: {_esc(n)}[/]")
    for c in ap.changes:
        color = _COLORS[c.action]
        addr = str(c.address)[len(ap.account) + 1 :]
        lines.append(
            f"  [{color}]{c.action.symbol} {_esc(addr)}[/]" + (f" [dim]({_esc(c.note)})[/]" if c.note else "")
        )
        if detail:
            lines += _fields(c, "      ")
    if not ap.changes and not ap.error:
        lines.append("  [dim]no changes[/]")
    elif ap.changes:
        lines.append(f"  Plan for {ap.account}: {_summary(ap.counts())}")
    return lines


_SIGN_COLORS = {"+": "green", "-": "red", "~": "yellow"}


def render_access(plan: Plan) -> list[str]:
    """ "Who gains what": the roles people can newly assume, no longer assume, or assume
    differently (MFA, admin) once the plan is applied; nothing when the plan changes no reach."""
    if not plan.access:
        return []
    lines = ["[bold]Who gains what[/] (roles people can assume after this plan, by evaluation):"]
    lines += [f"  [{_SIGN_COLORS[c.sign]}]{_esc(c.describe())}[/]" for c in plan.access]
    return [*lines, ""]


#: accounts named per selector in the text plan (`plan --json` lists them all)
SELECTION_NAMES = 10


def render_selections(plan: Plan) -> list[str]:
    """Which accounts each OU selector (and `organization: true`) of the spec matched."""
    if not plan.selections:
        return []
    lines = ["[bold]Accounts chosen by the organization:[/]"]
    lines += [f"  {_esc(m.notice(SELECTION_NAMES))}" for m in plan.selections]
    return [*lines, ""]


def render_plan(plan: Plan, *, detail: bool = True) -> str:
    """The plan as rich markup (print it with a rich Console; plain text with markup stripped)."""
    lines = [f"[bold red]Warning:[/] [red]{_esc(w)}[/]" for w in plan.warnings]
    if lines:
        lines.append("")
    lines += render_selections(plan)
    for ap in plan.accounts:
        lines += render_account(ap, detail=detail)
        lines.append("")
    lines += render_access(plan)
    if plan.errors:
        lines.append(
            f"[red]{len(plan.errors)} account(s) could not be planned: "
            f"{', '.join(a.account for a in plan.errors)}[/]"
        )
    if plan.empty:
        lines.append("[green]No changes.[/] The accounts match the spec.")
    elif not plan.changes:
        # Silence about an account that could not be read is not "matches the spec".
        planned = len(plan.accounts) - len(plan.errors)
        lines.append(
            f"No changes in the {planned} account(s) planned; the plan is incomplete until the "
            f"account(s) above can be read."
        )
    else:
        lines.append(
            f"[bold]Plan:[/] {_summary(plan.counts())}"
            + (f" [red](incomplete: {len(plan.errors)} account(s) not planned)[/]" if plan.errors else "")
        )
    if only_adoption(plan):
        lines.append(
            f"[cyan]Only adoption:[/] apply adds iamlayer's ownership marker to {len(plan.changes)} existing "
            "resource(s) (tag iamlayer:project, with iamlayer:tags naming the spec's tag keys, or a group's "
            "marker policy); nothing else changes: nothing "
            "is created, replaced or deleted, and no password or access key is touched."
        )
    return "\n".join(lines)


def render_stats(stats: dict[str, Any]) -> str:
    """The calls made by operation; for a plan, also how they compare with the bulk reads the
    kinds declare (iamlayer.kinds.expected_plan_reads): what is beyond them is per resource,
    further pages, retries or connecting to the accounts."""
    made: dict[str, int] = stats.get("by_operation", {})
    ops = ", ".join(f"{k} {v}" for k, v in made.items())
    line = f"API calls: {stats.get('total', 0)} ({ops})"
    expected: dict[str, int] | None = stats.get("expected_bulk_reads")
    if expected is None:
        return line
    beyond = {op: n - expected.get(op, 0) for op, n in made.items() if n > expected.get(op, 0)}
    short = {op: n - made.get(op, 0) for op, n in expected.items() if made.get(op, 0) < n}
    line += f"\nThe kinds' bulk reads for these accounts: {sum(expected.values())} call(s); beyond them: " + (
        ", ".join(f"{op} {n}" for op, n in beyond.items()) or "none"
    )
    if short:
        line += " (fewer than declared: " + ", ".join(f"{op} {n}" for op, n in short.items()) + ")"
    ic: dict[str, Any] | None = stats.get("identity_center")
    if ic is not None:
        calls = ", ".join(f"{k} {v}" for k, v in ic.get("calls", {}).items())
        line += (
            f"\nIdentity Center: assignments read by {ic['assignments_by']} ({ic['principals']} managed "
            f"principal(s), {ic['pairs']} permission set and account pair(s), {ic['completions']} "
            f"completing read(s)); its calls: {sum(ic.get('calls', {}).values())} ({calls})"
        )
    return line
