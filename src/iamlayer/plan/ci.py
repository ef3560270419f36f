"""What `ci:` renders in its account: the OIDC provider and the plan and apply roles. Pure.

Each CI system (iamlayer.spec.ci_validate) gets, in its account:

- the IAM OpenID Connect provider of its issuer (token.actions.githubusercontent.com, gitlab.com
  or the `url:` given), accepting its audience, tagged as the project's;
- `iamlayer-ci-<ci>-plan`, whose inline policy `iamlayer-operator` is the read-only operator
  policy (`iamlayer operator-policy --read-only`), and `iamlayer-ci-<ci>-apply` with the whole
  operator policy. Both policies are computed by `iamlayer.api.operator_policy` and handed in
  (`OperatorPolicies`): the handlers that declare the writes are not pure.

Trust: sts:AssumeRoleWithWebIdentity for the provider, with StringEquals on `<host>:aud` and on
`<host>:sub` (the exact values of `plan:` or `apply:`). StringEquals compares literally, and the
values hold no wildcard (validation refuses them), so no other repository, branch or environment
matches.

`job_workflow_ref` is not pinned: IAM does not offer a GitHub token's custom claims
(job_workflow_ref, repository_owner, workflow...) as condition keys; GitHub's documentation for
AWS says so ("Support for custom claims for OIDC is unavailable in AWS"). A condition on
`token.actions.githubusercontent.com:job_workflow_ref` would never be present in the request
context, so it would deny every request. To bind a role to one workflow, customize the
repository's `sub` template (GitHub's OIDC customization API) and write that `sub` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iamlayer.kinds import federated_providers
from iamlayer.spec.model import CiProvider, Spec
from iamlayer.state.model import OWNER_TAG, AccountState, Doc, OidcProviderState, RoleState
from iamlayer.state.normalize import normalize

#: the name of the inline policy each CI role gets: the operator policy
OPERATOR_POLICY_NAME = "iamlayer-operator"
#: what `OperatorPolicies` holds: the read-only and the whole operator policy
READ, WRITE = "read", "write"
#: {"read": operator_policy(read_only=True), "write": operator_policy()}
OperatorPolicies = Mapping[str, Doc]
#: AWS's default and IAM's longest session for a role a CI job assumes; a plan of a large layer
#: can take minutes, an apply longer: one hour
SESSION_SECONDS = 3600
CI_NAMES = {"github": "GitHub", "gitlab": "GitLab"}


def reads_oidc_providers(spec: Spec, account: str, live: AccountState) -> bool:
    """Whether a plan reads the OIDC providers of `account` (one ListOpenIDConnectProviders, and
    a GetOpenIDConnectProvider per provider): where `ci:` puts one, and where a role of this
    project trusts one (`ci:` moved or left: its provider is deleted with its roles). Elsewhere
    the plan keeps its constant calls per account (issue 21: at most 5 in a no-op plan)."""
    if any(p.account == account for p in spec.ci):
        return True
    return any(r.owned_by(spec.project) and federated_providers(r.trust) for r in live.roles.values())


def provider_arn(account_id: str, provider: CiProvider) -> str:
    return f"arn:aws:iam::{account_id}:oidc-provider/{provider.host}"


def ci_trust(account_id: str, provider: CiProvider, subs: tuple[str, ...]) -> Doc:
    """Web identities of `provider` whose token has its audience and one of `subs`, exactly."""
    sub: str | list[str] = subs[0] if len(subs) == 1 else sorted(subs)
    statement: dict[str, Any] = {
        "Sid": "CiWebIdentity",
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn(account_id, provider)},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {f"{provider.host}:aud": provider.audience, f"{provider.host}:sub": sub}
        },
    }
    return normalize({"Version": "2012-10-17", "Statement": [statement]})


def ci_providers(spec: Spec, account: str) -> dict[str, OidcProviderState]:
    """The OIDC providers `account` should hold, by issuer host."""
    acc = spec.accounts[account]
    out: dict[str, OidcProviderState] = {}
    for p in spec.ci:
        if p.account != account:
            continue
        have = out.get(p.host)
        audiences = {p.audience, *(have.client_ids if have else ())}
        out[p.host] = OidcProviderState(
            host=p.host,
            arn=provider_arn(acc.id, p),
            client_ids=tuple(sorted(audiences)),
            tags={OWNER_TAG: spec.project},
        )
    return out


def ci_roles(spec: Spec, account: str, operator: OperatorPolicies | None) -> dict[str, RoleState]:
    """The plan and apply roles of each CI system in `account`. Without `operator` (a pure caller
    that only looks at who may assume them), the roles have no inline policy."""
    acc = spec.accounts[account]
    out: dict[str, RoleState] = {}
    for p in spec.ci:
        if p.account != account:
            continue
        for name, subs, which, what in (
            (p.plan_role, p.plan_subs, READ, "plans"),
            (p.apply_role, p.apply_subs, WRITE, "plans and applies"),
        ):
            out[name] = RoleState(
                name=name,
                trust=ci_trust(acc.id, p, subs),
                max_session_duration=SESSION_SECONDS,
                description=f"{CI_NAMES.get(p.name, p.name)} CI ({p.subject}) {what} this iamlayer layer",
                inline={OPERATOR_POLICY_NAME: normalize(operator[which])} if operator else {},
                tags={OWNER_TAG: spec.project},
            )
    return out
