"""A plan as Markdown, to post as a pull-request comment (`iamlayer plan --format markdown`). Pure.

A reviewer reads it top-down: the totals, a warning when anything is destroyed, who gains or
loses which role, a table per account, then each account's changes in a `diff` block (GitHub and
GitLab colour `+` and `-` lines), destructive changes first and marked. Accounts without
changes are folded into one line. Nothing secret is ever part of a plan, so none is here.
"""

from __future__ import annotations

from iamlayer.plan.model import AccountPlan, Action, Change, Plan

#: Changes shown per account before the rest is summarised (a comment has a size limit:
#: GitHub's is 65,536 characters).
MAX_LINES_PER_ACCOUNT = 200

_ORDER = {Action.DELETE: 0, Action.UPDATE: 1, Action.CREATE: 2, Action.ADOPT: 3}


def _counts(counts: dict[str, int]) -> str:
    text = f"{counts['create']} to add, {counts['update']} to change, {counts['delete']} to destroy"
    return text + (f", {counts['adopt']} to adopt" if counts.get("adopt") else "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _line(ap: AccountPlan, c: Change) -> str:
    address = str(c.address)[len(ap.account) + 1 :]
    line = f"{c.action.symbol} {address}"
    if c.action is Action.DELETE:
        line += "   # DESTROY"
    if c.note:
        line += f"   ({c.note})"
    return line


def render_markdown(plan: Plan) -> str:
    """The plan as Markdown (see the module docstring)."""
    counts = plan.counts()
    changed = [a for a in plan.accounts if a.changes]
    out = [f"### iamlayer plan: {plan.project}", ""]
    if plan.empty:
        out += ["**No changes.** The accounts match the spec.", ""]
    else:
        out += [f"**{_counts(counts)}** in {len(changed)} of {len(plan.accounts)} account(s).", ""]
    if counts["delete"]:
        out += [
            f"> [!WARNING]\n> **{counts['delete']} resource(s) will be destroyed**; they are listed first "
            "in each account below and marked `# DESTROY`.",
            "",
        ]
    if plan.errors:
        out += [
            f"> [!CAUTION]\n> **{len(plan.errors)} account(s) could not be planned**; the plan is incomplete:"
        ]
        out += [f"> - `{a.account}`: {_cell(a.error or '')}" for a in plan.errors]
        out.append("")
    if plan.access:
        out += ["#### Who gains what", "", "Roles people can assume after this plan, by evaluation:", ""]
        out += ["```diff", *(c.describe() for c in plan.access), "```", ""]
    if changed or plan.errors:
        out += ["| account | id | add | change | destroy | adopt | notes |", "|---|---|---|---|---|---|---|"]
        for a in plan.accounts:
            n = a.counts()
            notes = "could not be planned" if a.error else "; ".join(a.notices)
            destroy = f"**{n['delete']}**" if n["delete"] else "0"
            out.append(
                f"| {a.account} | {a.account_id} | {n['create']} | {n['update']} | {destroy} | {n['adopt']} | "
                f"{_cell(notes)} |"
            )
        out.append("")
    for a in changed:
        ordered = sorted(a.changes, key=lambda c: _ORDER[c.action])
        shown = ordered[:MAX_LINES_PER_ACCOUNT]
        out += [
            f"<details{' open' if a.counts()['delete'] else ''}><summary><b>{a.account}</b> ({a.account_id}): "
            f"{_counts(a.counts())}</summary>",
            "",
            "```diff",
            *(_line(a, c) for c in shown),
        ]
        if len(ordered) > len(shown):
            out.append(f"# ... and {len(ordered) - len(shown)} more (iamlayer plan --json has every change)")
        out += ["```", "", "</details>", ""]
    unchanged = [a.account for a in plan.accounts if not a.changes and not a.error]
    if unchanged and not plan.empty:
        out += [f"No changes in: {', '.join(unchanged)}.", ""]
    return "\n".join(out)
