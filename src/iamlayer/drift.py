"""Drift on a schedule: a plan and an audit in one run, for CI (`iamlayer drift`). Pure.

Drift is anything the plan would change (someone edited IAM by hand, or the spec moved on and
was not applied) or any audit control that FAILs. Formats: JSON (the plan and audit documents
side by side), SARIF 2.1.0 (for code-scanning dashboards: each FAIL and ERROR finding and each
planned change is a result located at the spec file) and Markdown (for an issue or a chat).

Exit codes: 0 no drift and no FAIL, 2 drift or a FAIL, 1 the run itself failed (an account
could not be planned). An audit ERROR (a control that could not be checked) is reported, and
does not change the exit code on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iamlayer.audit.controls import Finding, Status
from iamlayer.audit.report import AuditReport, report_json
from iamlayer.plan.markdown import render_markdown
from iamlayer.plan.model import Action, Plan, plan_to_json

EXIT_NONE, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/iamlayer/iamlayer"
DRIFT_RULE = "iamlayer/drift"
_LEVEL = {Status.FAIL: "error", Status.ERROR: "warning", Status.WARN: "note"}


@dataclass(frozen=True)
class Drift:
    plan: Plan
    audit: AuditReport
    spec_path: str

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.audit.findings if f.status is Status.FAIL]

    @property
    def drifted(self) -> bool:
        return bool(self.plan.changes) or bool(self.failed)

    @property
    def exit_code(self) -> int:
        if self.plan.errors:
            return EXIT_ERROR
        return EXIT_DRIFT if self.drifted else EXIT_NONE

    def summary(self) -> str:
        c = self.plan.counts()
        changes = sum(c.values())
        if self.plan.errors:
            head = f"incomplete: {len(self.plan.errors)} account(s) could not be planned"
        elif self.drifted:
            head = "drift"
        else:
            head = "no drift"
        return (
            f"{head}: {changes} planned change(s) ({c['create']} to add, {c['update']} to change, "
            f"{c['delete']} to destroy), {len(self.failed)} audit FAIL finding(s)"
        )


def drift_json(d: Drift, api_calls: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "drift": d.drifted,
        "exit_code": d.exit_code,
        "summary": d.summary(),
        "plan": plan_to_json(d.plan),
        "audit": report_json(d.audit, api_calls),
    }


def _location(spec_path: str, account: str, resource: str) -> dict[str, Any]:
    return {
        "physicalLocation": {"artifactLocation": {"uri": Path(spec_path).name}, "region": {"startLine": 1}},
        "logicalLocations": [
            {"name": resource, "fullyQualifiedName": f"{account}/{resource}", "kind": "resource"}
        ],
    }


def drift_sarif(d: Drift, version: str) -> dict[str, Any]:
    """SARIF 2.1.0: one rule per audit control that has a FAIL or ERROR, and one for drift."""
    findings = [f for f in d.audit.findings if f.status in _LEVEL]
    rules: dict[str, dict[str, Any]] = {}
    for f in findings:
        rules.setdefault(
            f.control_id,
            {
                "id": f.control_id,
                "name": f.control,
                "shortDescription": {"text": f.title},
                "help": {"text": f.fix or f.title},
            },
        )
    results = [
        {
            "ruleId": f.control_id,
            "level": _LEVEL[f.status],
            "message": {
                "text": f"{f.status.value}: {f.detail or f.title} ({f.account}: {f.resource})"
                + (f". Fix: {f.fix}" if f.fix else "")
            },
            "locations": [_location(d.spec_path, f.account, f.resource)],
        }
        for f in findings
    ]
    if d.plan.changes:
        rules[DRIFT_RULE] = {
            "id": DRIFT_RULE,
            "name": "drift",
            "shortDescription": {"text": "AWS differs from the spec: apply would change this resource"},
            "help": {"text": "Review the plan (iamlayer plan) and apply it, or change the spec."},
        }
    for a in d.plan.accounts:
        for c in a.changes:
            results.append(
                {
                    "ruleId": DRIFT_RULE,
                    "level": "error" if c.action is Action.DELETE else "warning",
                    "message": {
                        "text": f"apply would {c.action.value} {c.address}"
                        + (f" ({c.note})" if c.note else "")
                    },
                    "locations": [_location(d.spec_path, a.account, str(c.address)[len(a.account) + 1 :])],
                }
            )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "iamlayer",
                        "version": version,
                        "informationUri": INFORMATION_URI,
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }


def drift_markdown(d: Drift) -> str:
    """The plan's Markdown, then the audit's FAIL and ERROR findings as a table."""
    out = [f"## iamlayer drift: {d.summary()}", "", render_markdown(d.plan).rstrip(), ""]
    findings = [f for f in d.audit.findings if f.status in _LEVEL]
    out += ["### Audit", ""]
    if not findings:
        out += ["No control FAILs.", ""]
        return "\n".join(out)
    out += ["| status | control | account | resource | fix |", "|---|---|---|---|---|"]
    for f in sorted(findings, key=lambda f: (f.status is not Status.FAIL, f.control_id, f.account)):
        cells = (f.status.value, f"{f.control_id} {f.title}", f.account, f.resource, f.fix or "")
        out.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join([*out, ""])
