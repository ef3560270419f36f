"""The Identity Center part of one account's plan: read the instance, diff it with the spec.

Only the account where the instance lives (`identity_center.account`) has this part; it joins
that account's IAM changes in one plan, and its state joins that account's fingerprint, so a
saved plan is stale when either moved.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final

from iamlayer.aws.identity_center import read_identity_center
from iamlayer.aws.session import AccountClients
from iamlayer.plan.ic_diff import desired_ic, diff_ic, managed_boundaries
from iamlayer.plan.model import Change
from iamlayer.spec.model import Spec
from iamlayer.state.journal import Journal

#: the journal entry of permission sets changed but not yet re-provisioned ("<name>@<account id>")
PROVISIONING: Final = "provisioning"


def has_identity_center(spec: Spec, account: str) -> bool:
    """Whether `account` holds the spec's Identity Center instance."""
    return spec.identity_center is not None and spec.identity_center.account == account


@dataclass
class IcPlanPart:
    changes: list[Change] = field(default_factory=list)
    collisions: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    fingerprint: str = ""


def plan_identity_center(spec: Spec, clients: AccountClients, journal: Journal) -> IcPlanPart:
    """Read the instance (see iamlayer.aws.identity_center for the cost) and diff it with the spec."""
    ic = spec.identity_center
    assert ic is not None
    project = spec.project
    live = read_identity_center(
        clients,
        ic.region,
        instance_arn=ic.instance_arn,
        detail=lambda ps: ps.owned_by(project),
        members_of=lambda g: g.owned_by(project),
        account_ids=[a.id for a in spec.accounts.values()],
        boundaries=managed_boundaries(ic),
    )
    result = diff_ic(
        ic.account,
        project,
        desired_ic(spec),
        live,
        account_names={a.id: a.name for a in spec.accounts.values()},
        managed_boundaries=managed_boundaries(ic),
        pending_provisioning=journal.pending(PROVISIONING, ic.account),
    )
    return IcPlanPart(result.changes, result.collisions, result.notices, live.fingerprint())


def combined_fingerprint(iam: str, ic: str) -> str:
    """One account's fingerprint when it holds the instance: its IAM state's and the instance's."""
    return hashlib.sha256(f"{iam}:{ic}".encode()).hexdigest()
