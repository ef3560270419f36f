"""The Identity Center part of one account's plan: read the instance, diff it with the spec.

Only the account where the instance lives (`identity_center.account`) has this part; it joins
that account's IAM changes in one plan, and its state joins that account's fingerprint, so a
saved plan is stale when either moved.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from iamlayer.aws.identity_center import read_identity_center
from iamlayer.aws.session import AccountClients
from iamlayer.errors import Diagnostic, IamlayerError, SpecError
from iamlayer.plan.ic_diff import (
    copies_kept_without_identity_center,
    desired_ic,
    diff_ic,
    entitled_account_ids,
    managed_boundaries,
    needed_policy_copies,
    spec_role_arns,
)
from iamlayer.plan.model import Change
from iamlayer.spec.ic_model import EXTERNAL_SOURCE, GROUP, USER, default_portal_url
from iamlayer.spec.model import Spec
from iamlayer.spec.policy_grammar import did_you_mean
from iamlayer.state.ic_model import AssignmentReadShape
from iamlayer.state.journal import Journal
from iamlayer.state.model import AccountState
from iamlayer.state.records import PROVISIONING_ENTRY


def has_identity_center(spec: Spec, account: str) -> bool:
    """Whether `account` holds the spec's Identity Center instance."""
    return spec.identity_center is not None and spec.identity_center.account == account


@dataclass
class IcPlanPart:
    changes: list[Change] = field(default_factory=list)
    collisions: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    fingerprint: str = ""
    #: per account id, the customer-managed policies no plan may delete (see needed_policy_copies)
    needed_policies: dict[str, dict[str, str]] = field(default_factory=dict)
    #: how the assignments were read (for `plan --stats`)
    read_shape: AssignmentReadShape | None = None


def plan_identity_center(spec: Spec, clients: AccountClients, journal: Journal) -> IcPlanPart:
    """Read the instance (see iamlayer.aws.identity_center for the cost) and diff it with the spec."""
    ic = spec.identity_center
    assert ic is not None
    project = spec.project
    desired = desired_ic(spec)
    live = read_identity_center(
        clients,
        ic.region,
        instance_arn=ic.instance_arn,
        detail=lambda ps: ps.owned_by(project),
        members_of=lambda g: g.owned_by(project),
        account_ids=[a.id for a in spec.accounts.values()],
        boundaries=managed_boundaries(ic),
        external={kind: list(ic.external(kind)) for kind in (GROUP, USER) if ic.external(kind)},
        list_store=ic.identity_source != EXTERNAL_SOURCE,
        entitled_accounts=entitled_account_ids(spec),
        project=project,
        desired=desired,
    )
    if live.unresolved:
        raise unresolved_error(spec, live.unresolved, live.identity_store_id)
    result = diff_ic(
        ic.account,
        project,
        desired,
        live,
        account_names={a.id: a.name for a in spec.accounts.values()},
        managed_boundaries=managed_boundaries(ic),
        pending_provisioning=journal.pending(PROVISIONING_ENTRY, ic.account),
        roles=spec_role_arns(spec),
    )
    notices = list(result.notices)
    store = live.identity_store_id
    if ic.identity_store_id and ic.identity_store_id != store:
        notices.append(
            f"identity_center.identity_store_id is {ic.identity_store_id}, but the instance's is {store}: "
            f"people's sso profiles would sign in at the wrong portal; set it to {store}"
        )
    elif ic.portal_url is None and store:
        notices.append(
            f"people's sso profiles (credentials configure --sso) need the access portal URL: add "
            f"identity_store_id: {store} under identity_center (the default portal, {default_portal_url(store)}), "
            "or start_url if it was customised"
        )
    return IcPlanPart(
        result.changes,
        result.collisions,
        notices,
        live.fingerprint(),
        needed_policy_copies(spec, live),
        live.read_shape,
    )


def unresolved_error(spec: Spec, unresolved: dict[str, list[str]], store: str) -> SpecError:
    """The external principals the spec names that the identity store lacks, each at its line,
    with a did-you-mean from the store's names of that type."""
    ic = spec.identity_center
    assert ic is not None
    out = []
    for key, names in sorted(unresolved.items()):
        kind, _, name = key.partition("/")
        section = "groups" if kind == GROUP else "users"
        guess = did_you_mean(name, names)
        hint = (
            f"did you mean {guess!r}?"
            if guess
            else "its identity provider has not provisioned it (SCIM), or it is spelled otherwise there"
        )
        message = f"external {kind.lower()} {name!r} is not in identity store {store}"
        out.append(
            Diagnostic(
                str(spec.path), ic.external(kind)[name], f"identity_center.{section}.{name}", message, hint
            )
        )
    return SpecError(out)


class SharedIcPlan:
    """The Identity Center part of a plan, made once by whichever account's planning asks first.

    The account holding the instance joins it to its changes; every account's IAM diff needs to
    know which customer-managed policies a permission set still references there. Asking blocks
    until the one read is done. Without the instance's account in the plan (or when it cannot be
    reached) there is no read: `get` returns None.
    """

    def __init__(self, make: Callable[[], IcPlanPart] | None) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._done = False
        self._part: IcPlanPart | None = None
        self._error: IamlayerError | None = None

    def get(self) -> IcPlanPart | None:
        """The part, or None when not read; raises the IamlayerError the read raised."""
        with self._lock:
            if not self._done and self._make is not None:
                try:
                    self._part = self._make()
                except IamlayerError as exc:
                    self._error = exc
            self._done = True
        if self._error is not None:
            raise self._error
        return self._part

    def read_shape(self) -> AssignmentReadShape | None:
        """How the part read the assignments (None when not read, or not read yet)."""
        with self._lock:
            return self._part.read_shape if self._part is not None else None

    def needed_policies(self, spec: Spec, account: str, live: AccountState) -> dict[str, str]:
        """What `account`'s IAM diff must not delete (`live`: as read); every policy a permission
        set of the spec references when the instance was not read."""
        if spec.identity_center is None:
            return copies_kept_without_identity_center(spec, account, live)
        try:
            part = self.get()
        except IamlayerError:
            part = None
        needed = part.needed_policies if part is not None else needed_policy_copies(spec, None)
        return needed.get(spec.accounts[account].id, {})


def combined_fingerprint(iam: str, ic: str) -> str:
    """One account's fingerprint when it holds the instance: its IAM state's and the instance's."""
    return hashlib.sha256(f"{iam}:{ic}".encode()).hexdigest()
