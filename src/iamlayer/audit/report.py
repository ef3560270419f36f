"""Rendering audit findings: a terminal table (rich), JSON, and one self-contained HTML file.

JSON shape (`iamlayer audit --format json`)::

    {
      "benchmark": "cis-4.0",
      "generated_at": "2025-01-01T12:00:00+00:00",
      "totals": {"PASS": 10, "FAIL": 2, "ERROR": 1, "WARN": 0, "INFO": 0},
      "accounts": [{"account": "security", "account_id": "222222222222",
                    "credential_report": {"generated_at": "...", "age_seconds": 600, "age": "10m",
                                          "error": null},
                    "counts": {"PASS": 10, "FAIL": 2, "ERROR": 1, "WARN": 0, "INFO": 0}}],
      "controls": [{"control_id": "1.8", "control": "password-length", "title": "...",
                    "account": "security", "PASS": 1, "FAIL": 0, "ERROR": 0, "WARN": 0, "INFO": 0,
                    "prowler": ["iam_password_policy_minimum_length_14"]}],
      "findings": [{"control_id": "1.8", "control": "password-length", "title": "...",
                    "status": "FAIL", "account": "security", "resource": "password-policy",
                    "detail": "MinimumPasswordLength = 8", "fix": "...",
                    "spec_field": "password_policy.minimum_length", "severity": "medium",
                    "evidence": null}],
      "admins": [{"account": "security", "source": "user/dev", "how": "escalation",
                  "reaches": "role/Deployer", "certain": true, "steps": [...]}],
      "admin_errors": [{"account": "shared", "error": "authorization details unavailable: ..."}],
      "fix_first": [{"control_id": "1.15", "control": "permissions-via-groups", "status": "FAIL",
                     "severity": "low", "title": "...", "count": 20, "accounts": ["security"],
                     "resources": [{"account": "security", "resource": "user/a", "detail": "..."}],
                     "fix": "...", "spec_field": "..."}],
      "api_calls": {"total": 41, "by_account": {...}, "by_operation": {...}}
    }

`admins` is the first section: who is admin (`how`: `direct`, or `group` through a group's
policy) or can become admin (`assume`: by assuming admin roles; `escalation`: by one of the
escalation paths, `certain` false for a possible one), with the steps. `fix_first` folds the
findings that are not PASS: one entry per control, status, severity and fix, naming every
resource, most severe first. `findings` lists each finding, as before.

Statuses: PASS, FAIL, ERROR (could not check, with why), WARN (a weakness to look at, not
failed: a wildcard `sub` in an OIDC trust) and INFO (reported, not failed: the benchmark does not
require it). Control ids are the benchmark's (1.16) or iamlayer's own (IL-1).
`api_calls` (what the audit cost, counted by ApiStats) is present when the caller passes the stats.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from iamlayer.audit.controls import Finding, Severity, Status, control_order, controls_by_key
from iamlayer.audit.escalation import BY_ESCALATION, account_escalation
from iamlayer.audit.model import (
    REPORT_MAX_AGE,
    AuditInput,
    AuthorizationDetails,
    CredentialReport,
    Unavailable,
)

STATUSES = (Status.PASS, Status.FAIL, Status.ERROR, Status.WARN, Status.INFO)
_STYLE = {
    Status.PASS: "green",
    Status.FAIL: "red",
    Status.ERROR: "yellow",
    Status.WARN: "magenta",
    Status.INFO: "cyan",
}


@dataclass(frozen=True)
class AccountMeta:
    account: str
    account_id: str
    report_generated: datetime | None  # the credential report's GeneratedTime
    report_error: str | None = None  # why there is no credential report


@dataclass(frozen=True)
class AdminRow:
    """One principal that is or can become admin (the report's first section)."""

    account: str
    source: str  # user/x or role/y
    how: str  # direct, group, assume, escalation
    reaches: str  # the admin reached, or the admin policy held
    certain: bool
    steps: tuple[Mapping[str, Any], ...] = ()
    path: str = ""  # the steps, for people

    @property
    def label(self) -> str:
        return self.how if self.certain else f"possible {self.how}"

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "source": self.source,
            "how": self.how,
            "reaches": self.reaches,
            "certain": self.certain,
            "steps": [dict(s) for s in self.steps],
        }


def admin_rows(inputs: Iterable[AuditInput], now: datetime) -> tuple[list[AdminRow], list[tuple[str, str]]]:
    """Who is or can become admin, account by account; and the accounts that could not say why."""
    rows: list[AdminRow] = []
    errors: list[tuple[str, str]] = []
    for inp in inputs:
        auth, aws = inp.authorization, inp.aws_managed_policies
        if isinstance(auth, Unavailable) or isinstance(aws, Unavailable):
            what = (
                "authorization details" if isinstance(auth, Unavailable) else "attached AWS-managed policies"
            )
            errors.append(
                (inp.account, f"{what} unavailable: {auth if isinstance(auth, Unavailable) else aws}")
            )
            continue
        assert isinstance(auth, AuthorizationDetails)
        esc = account_escalation(auth, aws, inp.account_id, now)
        for r in esc.reaches:
            doc = r.as_json()
            rows.append(
                AdminRow(
                    inp.account, r.principal.ref, r.how, r.admin, r.certain, tuple(doc["steps"]), r.describe()
                )
            )
    return rows, errors


@dataclass(frozen=True)
class Folded:
    """Findings of one control with the same status, severity and fix: one entry, every resource named."""

    findings: tuple[Finding, ...]

    @property
    def first(self) -> Finding:
        return self.findings[0]

    def as_json(self) -> dict[str, Any]:
        f = self.first
        return {
            "control_id": f.control_id,
            "control": f.control,
            "title": f.title,
            "status": f.status.value,
            "severity": f.severity.value,
            "count": len(self.findings),
            "accounts": list(dict.fromkeys(x.account for x in self.findings)),
            "resources": [
                {"account": x.account, "resource": x.resource, "detail": x.detail} for x in self.findings
            ],
            "fix": f.fix,
            "spec_field": f.spec_field,
        }


_STATUS_RANK = {Status.FAIL: 0, Status.ERROR: 1, Status.WARN: 2, Status.INFO: 3, Status.PASS: 4}


def fold(findings: Iterable[Finding]) -> list[Folded]:
    """Findings grouped by control, status, severity, fix and spec field; most severe first, then
    FAIL before ERROR before INFO before PASS, then in benchmark order."""
    groups: dict[tuple[str, Status, Severity, str, str | None], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.control_id, f.status, f.severity, f.fix, f.spec_field), []).append(f)
    ordered = sorted(
        groups.items(), key=lambda kv: (kv[0][2].rank, _STATUS_RANK[kv[0][1]], control_order(kv[0][0]))
    )
    return [Folded(tuple(g)) for _, g in ordered]


@dataclass(frozen=True)
class AuditReport:
    benchmark: str
    generated_at: datetime
    accounts: tuple[AccountMeta, ...]
    findings: tuple[Finding, ...]
    #: the first section: who is or can become admin
    admins: tuple[AdminRow, ...] = ()
    admin_errors: tuple[tuple[str, str], ...] = ()  # (account, why the section could not be made)

    @classmethod
    def build(
        cls, inputs: Sequence[AuditInput], findings: Iterable[Finding], benchmark: str, now: datetime
    ) -> AuditReport:
        """The report of `findings`; `now` is the time the controls ran at (the escalation
        analysis they made is then reused for the first section)."""
        metas = []
        for inp in inputs:
            cr = inp.credential_report
            if isinstance(cr, CredentialReport):
                metas.append(AccountMeta(inp.account, inp.account_id, cr.generated))
            else:
                metas.append(AccountMeta(inp.account, inp.account_id, None, cr.why))
        rows, errors = admin_rows(inputs, now)
        return cls(benchmark, now, tuple(metas), tuple(findings), tuple(rows), tuple(errors))

    def counts(self, account: str | None = None) -> dict[str, int]:
        c = Counter(f.status.value for f in self.findings if account is None or f.account == account)
        return {s.value: c.get(s.value, 0) for s in STATUSES}

    def control_rows(self) -> list[dict[str, Any]]:
        """Per control and account: counts per status and the equivalent Prowler checks, in report order."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        known = controls_by_key()
        for f in self.findings:
            prowler = list(known[f.control].prowler) if f.control in known else []
            row = rows.setdefault(
                (f.control_id, f.account),
                {"control_id": f.control_id, "control": f.control, "title": f.title, "account": f.account}
                | {s.value: 0 for s in STATUSES}
                | {"prowler": prowler},
            )
            row[f.status.value] += 1
        return list(rows.values())

    def report_age_seconds(self, meta: AccountMeta) -> int | None:
        if meta.report_generated is None:
            return None
        return max(0, int((self.generated_at - meta.report_generated).total_seconds()))

    @property
    def failed(self) -> bool:
        return any(f.status is Status.FAIL for f in self.findings)

    @property
    def errored(self) -> bool:
        return any(f.status is Status.ERROR for f in self.findings)


def human_age(seconds: int | None) -> str:
    if seconds is None:
        return "unavailable"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def _worst(row: dict[str, Any]) -> Status:
    for status in (Status.FAIL, Status.ERROR, Status.WARN, Status.INFO):
        if row[status.value]:
            return status
    return Status.PASS


# --- JSON ----------------------------------------------------------------------------------------


def report_json(report: AuditReport, api_calls: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The documented JSON shape (see the module docstring); `api_calls` is ApiStats.as_json()."""
    accounts = []
    for m in report.accounts:
        age = report.report_age_seconds(m)
        accounts.append(
            {
                "account": m.account,
                "account_id": m.account_id,
                "credential_report": {
                    "generated_at": m.report_generated.isoformat() if m.report_generated else None,
                    "age_seconds": age,
                    "age": human_age(age),
                    "error": m.report_error,
                },
                "counts": report.counts(m.account),
            }
        )
    doc: dict[str, Any] = {
        "benchmark": report.benchmark,
        "generated_at": report.generated_at.isoformat(),
        "totals": report.counts(),
        "accounts": accounts,
        "controls": report.control_rows(),
        "findings": [
            {
                "control_id": f.control_id,
                "control": f.control,
                "title": f.title,
                "status": f.status.value,
                "account": f.account,
                "resource": f.resource,
                "detail": f.detail,
                "fix": f.fix,
                "spec_field": f.spec_field,
                "severity": f.severity.value,
                "evidence": dict(f.evidence) if f.evidence is not None else None,
            }
            for f in report.findings
        ],
        "admins": [row.as_json() for row in report.admins],
        "admin_errors": [{"account": a, "error": why} for a, why in report.admin_errors],
        "fix_first": [g.as_json() for g in fold(f for f in report.findings if f.status is not Status.PASS)],
    }
    if api_calls is not None:
        doc["api_calls"] = dict(api_calls)
    return doc


# --- terminal ------------------------------------------------------------------------------------


#: How many resources, and how many different details, a folded finding of the table names
#: before "+N more" (`--format json` lists every finding).
TABLE_RESOURCES = 6
TABLE_DETAILS = 2


def render_table(report: AuditReport, console: Console, *, show_pass: bool = False) -> None:
    """Summary per account, then every FAIL, ERROR and INFO (and PASS with `show_pass`), folded.

    Findings of one control with the same status and fix are one entry: the control's title, where
    (the resource in each account, or the accounts of one resource), the detail, the fix. So the
    same control failing for five accounts reads once, in two columns that fit 80 characters.
    """
    summary = Table(title=f"iamlayer audit ({report.benchmark})", title_justify="left")
    for col in ("account", "credential report age", *STATUSES):
        summary.add_column(col, justify="right" if col in STATUSES else "left")
    for m in report.accounts:
        c = report.counts(m.account)
        seconds = report.report_age_seconds(m)
        # An age AWS cannot give is not told (see REPORT_MAX_AGE); the JSON keeps the figures.
        plausible = seconds is None or seconds <= REPORT_MAX_AGE.total_seconds()
        age = human_age(seconds) if plausible else "not known"
        summary.add_row(m.account, age, *(f"[{_STYLE[s]}]{c[s.value]}[/]" for s in STATUSES))
    console.print(summary)
    _render_admins(report, console)
    shown = [f for f in report.findings if show_pass or f.status is not Status.PASS]
    if not shown:
        console.print("[green]Every control passed.[/]")
        return
    details = Table.grid(padding=(0, 1))
    details.add_column(no_wrap=True)
    details.add_column(no_wrap=True)
    details.add_column(ratio=1, overflow="fold")
    for n, folded in enumerate(fold(shown)):
        group = list(folded.findings)
        status, control_id, fix, spec_field = (
            folded.first.status,
            folded.first.control_id,
            folded.first.fix,
            folded.first.spec_field,
        )
        if n:
            details.add_row("", "", "")
        severity = folded.first.severity
        sev = f" [{_SEVERITY_STYLE[severity]}]({severity.value})[/]" if severity is not Severity.NONE else ""
        lines = [f"[bold]{_esc(group[0].title)}[/]{sev}", _esc(_where(group))]
        lines += [
            _esc(d) for d in _some(list(dict.fromkeys(f.detail for f in group)), TABLE_DETAILS, "details")
        ]
        if fix:
            lines.append("fix: " + _esc(fix) + (f" [dim](spec: {_esc(spec_field)})[/]" if spec_field else ""))
        details.add_row(f"[{_STYLE[status]}]{status.value}[/]", control_id, "\n".join(lines))
    console.print()
    console.print(details)


_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.NONE: "dim",
}


def _render_admins(report: AuditReport, console: Console) -> None:
    """The first section: who is or can become admin; escalations first, then possible ones, then the rest."""
    if not report.admins and not report.admin_errors:
        console.print("Who is or can become admin: nobody.")
        return
    table = Table(title="Who is or can become admin", title_justify="left")
    for col in ("how", "who", "reaches"):
        table.add_column(col, overflow="fold")
    rank = {BY_ESCALATION: 0}
    for row in sorted(report.admins, key=lambda r: (rank.get(r.how, 1), not r.certain, r.account)):
        style = "red" if row.how == BY_ESCALATION else ""
        how = f"[{style}]{_esc(row.label)}[/]" if style else _esc(row.label)
        table.add_row(how, _esc(f"{row.account}: {row.source}"), _esc(row.reaches))
    for account, why in report.admin_errors:
        table.add_row("[yellow]unknown[/]", _esc(account), _esc(why))
    console.print(table)


def _where(group: Sequence[Finding]) -> str:
    """Where a folded finding holds: one resource in several accounts, or each account's resource."""
    resources = list(dict.fromkeys(f.resource for f in group))
    accounts = list(dict.fromkeys(f.account for f in group))
    if len(resources) == 1 and len(accounts) > 1:
        return f"{resources[0]} in {len(accounts)} accounts: " + ", ".join(_some(accounts, TABLE_RESOURCES))
    by_account: dict[str, list[str]] = {}
    for f in group:
        by_account.setdefault(f.account, []).append(f.resource)
    return "; ".join(
        _some(
            [f"{a}: {', '.join(_some(rs, TABLE_RESOURCES))}" for a, rs in by_account.items()], TABLE_RESOURCES
        )
    )


def _some(items: list[str], limit: int, what: str = "") -> list[str]:
    """The first `limit` items, and "+N more" for the rest."""
    if len(items) <= limit:
        return items
    more = f"+{len(items) - limit} more" + (f" {what}" if what else "")
    return [*items[:limit], f"({more}: --format json lists each finding)" if what else more]


def _esc(text: str) -> str:
    return escape(text)


# --- HTML ----------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem} h2{font-size:1.2rem;margin:2rem 0 .5rem}
.meta{color:#57606a;margin-bottom:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.n{text-align:right}
.PASS{background:#dafbe1;color:#116329;font-weight:600}
.FAIL{background:#ffebe9;color:#a40e26;font-weight:600}
.ERROR{background:#fff8c5;color:#7d4e00;font-weight:600}
.INFO{background:#ddf4ff;color:#0a3069;font-weight:600}
.WARN{background:#fff8c5;color:#7d4e00;font-weight:600}
.totals span{display:inline-block;margin-right:1rem;padding:.2rem .6rem;border-radius:.3rem}
code{font-family:ui-monospace,monospace;font-size:.85em}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def render_html(report: AuditReport) -> str:
    """One self-contained HTML page: totals, summary per account, control x account, then details."""
    t = report.counts()
    accounts = [m.account for m in report.accounts]
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>iamlayer audit {_e(report.benchmark)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>iamlayer audit: CIS AWS Foundations IAM controls ({_e(report.benchmark)})</h1>",
        f'<p class="meta">Generated {_e(report.generated_at.strftime("%Y-%m-%d %H:%M:%S %Z"))}</p>',
        '<p class="totals" id="totals">'
        + "".join(f'<span class="{s.value}">{s.value} {t[s.value]}</span>' for s in STATUSES)
        + "</p>",
        *_html_admins(report),
        '<h2 id="summary">Summary per account</h2>',
        "<table><thead><tr><th>Account</th><th>Account id</th><th>Credential report age</th>"
        + "".join(f"<th>{s.value}</th>" for s in STATUSES)
        + "</tr></thead><tbody>",
    ]
    for m in report.accounts:
        c = report.counts(m.account)
        age = human_age(report.report_age_seconds(m))
        age_cell = _e(age) if m.report_error is None else f"{_e(age)}: {_e(m.report_error)}"
        out.append(
            f"<tr><td>{_e(m.account)}</td><td>{_e(m.account_id)}</td><td>{age_cell}</td>"
            + "".join(f'<td class="n {s.value}">{c[s.value]}</td>' for s in STATUSES)
            + "</tr>"
        )
    out.append("</tbody></table>")
    out.append('<h2 id="controls">Summary per control</h2>')
    out.append(
        "<table><thead><tr><th>Id</th><th>Control</th><th>Prowler check</th>"
        + "".join(f"<th>{_e(a)}</th>" for a in accounts)
        + "</tr></thead><tbody>"
    )
    by_control: dict[str, dict[str, dict[str, Any]]] = {}
    titles: dict[str, str] = {}
    prowler: dict[str, list[str]] = {}
    for row in report.control_rows():
        by_control.setdefault(row["control_id"], {})[row["account"]] = row
        titles[row["control_id"]] = row["title"]
        prowler[row["control_id"]] = row["prowler"]
    for cid, per_account in by_control.items():
        cells = []
        for a in accounts:
            cell = per_account.get(a)
            if cell is None:
                cells.append("<td></td>")
                continue
            worst = _worst(cell)
            counts = ", ".join(f"{cell[s.value]} {s.value}" for s in STATUSES if cell[s.value])
            cells.append(f'<td class="{worst.value}">{worst.value} <small>({_e(counts)})</small></td>')
        checks = "<br>".join(f"<code>{_e(c)}</code>" for c in prowler[cid])
        out.append(f"<tr><td>{_e(cid)}</td><td>{_e(titles[cid])}</td><td>{checks}</td>{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    out += _html_fix_first(report)
    out.append('<h2 id="details">Details</h2>')
    for a in accounts:
        findings = [f for f in report.findings if f.account == a]
        out.append(f"<h3>{_e(a)}</h3>")
        out.append(
            "<table><thead><tr><th>Id</th><th>Status</th><th>Resource</th><th>Detail</th>"
            "<th>Fix</th><th>Spec field</th></tr></thead><tbody>"
        )
        for f in _order(findings):
            out.append(
                f'<tr><td>{_e(f.control_id)}</td><td class="{f.status.value}">{f.status.value}</td>'
                f"<td><code>{_e(f.resource)}</code></td><td>{_e(f.detail)}</td><td>{_e(f.fix)}</td>"
                f"<td>{'<code>' + _e(f.spec_field) + '</code>' if f.spec_field else ''}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_admins(report: AuditReport) -> list[str]:
    out = [
        '<h2 id="admins">Who is or can become admin</h2>',
        "<table><thead><tr><th>How</th><th>Account</th><th>Who</th><th>Reaches</th><th>Steps</th></tr></thead><tbody>",
    ]
    for row in report.admins:
        out.append(
            f"<tr><td>{_e(row.label)}</td><td>{_e(row.account)}</td><td><code>{_e(row.source)}</code></td>"
            f"<td><code>{_e(row.reaches)}</code></td><td>{_e(row.path if row.steps else '')}</td></tr>"
        )
    for account, why in report.admin_errors:
        out.append(
            f'<tr><td class="ERROR">unknown</td><td>{_e(account)}</td><td colspan="3">{_e(why)}</td></tr>'
        )
    if not report.admins and not report.admin_errors:
        out.append('<tr><td colspan="5">nobody</td></tr>')
    out.append("</tbody></table>")
    return out


def _html_fix_first(report: AuditReport) -> list[str]:
    out = [
        '<h2 id="fix-first">What to fix first</h2>',
        "<table><thead><tr><th>Severity</th><th>Id</th><th>Status</th><th>Control</th><th>Where</th>"
        "<th>Fix</th></tr></thead><tbody>",
    ]
    for g in fold(f for f in report.findings if f.status is not Status.PASS):
        f = g.first
        where = ", ".join(f"{x.account}: {x.resource}" for x in g.findings)
        out.append(
            f"<tr><td>{_e(f.severity.value)}</td><td>{_e(f.control_id)}</td>"
            f'<td class="{f.status.value}">{f.status.value} ({len(g.findings)})</td><td>{_e(f.title)}</td>'
            f"<td>{_e(where)}</td><td>{_e(f.fix)}</td></tr>"
        )
    out.append("</tbody></table>")
    return out


def _order(findings: Sequence[Finding]) -> list[Finding]:
    """FAIL first, then ERROR, WARN, INFO, then PASS; stable within each."""
    rank = _STATUS_RANK
    return sorted(findings, key=lambda f: rank[f.status])
