"""The live access model: what AWS holds, read in bulk, for `iamlayer access --live`.

Each account named is read with the planner's bulk read (GetAccountAuthorizationDetails and
ListRoles; no password policy, alias or credential report: access does not depend on them). Then
the AWS-managed policies attached to the people account's users and groups, which that read
names but does not contain, are read once per distinct ARN
(iamlayer.aws.managed_policies). Roles' own managed policies are not read: they do not decide
who may assume a role.
"""

from __future__ import annotations

from collections.abc import Iterable

from iamlayer.access.principals import AWS_POLICY_PREFIX, AccessModel, model_of
from iamlayer.aws.accounts import connect_accounts
from iamlayer.aws.managed_policies import read_policy_documents
from iamlayer.aws.read import whole_state_read
from iamlayer.aws.session import ApiStats, CredentialSource
from iamlayer.errors import CredentialsError
from iamlayer.spec.model import Spec
from iamlayer.state.model import AccountState


def read_live_model(
    spec: Spec, *, accounts: Iterable[str], profile: CredentialSource, stats: ApiStats
) -> AccessModel:
    """The access model of the people account and `accounts`, as they are in AWS now."""
    names = list(dict.fromkeys([spec.people_account, *accounts]))
    conns = connect_accounts(spec, profile=profile, stats=stats, only=names)
    states: dict[str, AccountState] = {}
    for name in names:
        conn = conns[name]
        if conn.clients is None:
            raise CredentialsError(f"cannot reach account {name} ({spec.accounts[name].id}): {conn.error}")
        states[name] = whole_state_read(
            conn.clients, conn.account.id, credential_report=False, password_policy=False, alias=False
        )

    def build(managed: dict[str, dict[str, object]]) -> AccessModel:
        return model_of(spec, states, managed=managed, source="live")

    model = build({})
    unknown = sorted(a for a in model.unknown_policies() if a.startswith(AWS_POLICY_PREFIX))
    if not unknown:
        return model
    people = conns[spec.people_account].clients
    assert people is not None
    return build(dict(read_policy_documents(people, unknown)))
