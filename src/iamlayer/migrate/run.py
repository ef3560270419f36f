"""`iamlayer migrate identity-center`: move a layer's people from IAM users to Identity Center,
and prove nobody loses or gains access (issue 24 item 5).

    migrate_identity_center(spec_path, via=Via.PERMISSION_SETS) -> Migration

From the current spec (or one `import aws` wrote), it proposes a spec with both layers side by
side (iamlayer.migrate.proposal, written into the spec's own text by iamlayer.migrate.textedit),
checks the proposal loads, compares every person's reach before and after with the evaluator
(iamlayer.migrate.parity) and plans the IAM users' retirement (iamlayer.migrate.retire). Nothing
touches AWS unless `live`: then the organization (for OU selectors) and the people account's
credential report (each key's and password's last use) are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iamlayer.audit.model import CredentialReport
from iamlayer.errors import IamlayerError
from iamlayer.migrate.parity import Parity, parity
from iamlayer.migrate.proposal import DEFAULT_EMAIL_TAG, Proposal, Via, propose, read_people_csv
from iamlayer.migrate.retire import Retirement, retirement_plan
from iamlayer.migrate.textedit import apply_proposal, unified
from iamlayer.spec.load import load_spec, load_spec_text, resolve_organization
from iamlayer.spec.model import Spec

__all__ = ["Migration", "Via", "migrate_identity_center"]


@dataclass(frozen=True)
class Migration:
    """The proposal, the spec text it makes, the parity table and the retirement plan."""

    spec_path: Path
    via: Via
    current_text: str
    proposed_text: str
    proposal: Proposal
    parity: Parity
    retirement: tuple[Retirement, ...]
    live: bool

    def diff(self) -> str:
        return unified(self.current_text, self.proposed_text, self.spec_path.name)

    def as_json(self) -> dict[str, Any]:
        p = self.proposal
        return {
            "spec": str(self.spec_path),
            "via": self.via.value,
            "parity": self.parity.holds,
            "rows": [r.as_json() for r in self.parity.rows],
            "differences": [r.as_json() for r in self.parity.differences],
            "proposed": {
                "users": list(p.users),
                "groups": list(p.groups),
                "permission_sets": list(p.permission_sets),
                "assignments": p.assignments,
                "entitled": p.entitled,
            },
            "notes": list(p.notes),
            "retirement": [r.as_json() for r in self.retirement],
            "credentials_read": self.live,
        }


def _read_live(spec: Spec, profile: str | None) -> tuple[Spec, CredentialReport]:
    """The spec resolved against the organization (when it has selectors), and the people
    account's credential report. The only AWS reads of a migration."""
    from iamlayer.aws.accounts import connect_accounts
    from iamlayer.aws.read import read_credential_report
    from iamlayer.aws.session import ApiStats
    from iamlayer.plan.planner import resolve_spec

    stats = ApiStats()
    spec = resolve_spec(spec, profile=profile, stats=stats)
    conn = connect_accounts(spec, profile=profile, stats=stats, only=[spec.people_account])[
        spec.people_account
    ]
    if conn.clients is None:
        raise IamlayerError(f"cannot reach the people account {spec.people_account}: {conn.error}")
    return spec, read_credential_report(conn.clients)


def migrate_identity_center(
    spec_path: str | Path,
    *,
    via: Via = Via.PERMISSION_SETS,
    emails: str | Path | None = None,
    email_tag: str = DEFAULT_EMAIL_TAG,
    ic_account: str | None = None,
    live: bool = False,
    profile: str | None = None,
    now: datetime | None = None,
) -> Migration:
    """Propose the move of `spec_path`'s people to Identity Center (see the module docstring).

    Raises SpecError (exit 2) for a user without an email (each at its line) or a CSV that is
    not `user,email[,given_name,family_name]`; IamlayerError when the spec needs the
    organization (OU selectors) and `live` is off, or has no account for the instance.
    """
    path = Path(spec_path)
    text = path.read_text(encoding="utf-8")
    spec = load_spec(path, check_keys=False)
    report: CredentialReport | None = None
    if live:
        spec, report = _read_live(spec, profile)
    elif spec.unresolved:
        raise IamlayerError(
            f"{path} chooses accounts by OU or from the organization: run with --live to read it"
        )
    people = None
    if emails is not None:
        people = read_people_csv(Path(emails).read_text(encoding="utf-8"), str(emails))
    proposal = propose(spec, via, people=people, email_tag=email_tag, people_source=str(emails or ""))
    if spec.identity_center is None and ic_account is None and spec.management_account is None:
        raise IamlayerError(
            "the spec names no management account: say where the Identity Center instance is with --ic-account NAME"
        )
    proposed_text = apply_proposal(
        text, str(path), proposal, ic_account=ic_account if spec.identity_center is None else None
    )
    proposed, _ = load_spec_text(proposed_text, path, check_keys=False)
    if spec.organization is not None:
        proposed = resolve_organization(proposed, spec.organization)
    table = parity(spec, proposed, now=now or datetime.now(UTC))
    kept = {g for g, group in spec.groups.items() if group.policies or group.inline_policies}
    ic = proposed.identity_center
    moved = set(ic.users) if ic else set()
    retirement = retirement_plan(spec, table, moved, kept, report)
    return Migration(path, via, text, proposed_text, proposal, table, retirement, live)
