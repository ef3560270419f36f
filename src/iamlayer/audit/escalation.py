"""Privilege escalation paths, asked of the IAM policy evaluator (`iamlayer.access`), not of strings.

The paths are Rhino Security Labs' well-known list, as Prowler and pmapper check them: each is a
set of actions that together let a principal give itself more than it has (a new default policy
version, a policy attached or written to itself, a role passed to a compute service it then
runs, another user's credentials, a group it joins...). A path is open when the evaluator
allows every one of its actions to the principal, with everything that applies to it: its own
inline and attached policies, its groups' (users), explicit Denies, and its permissions boundary.

"On `*`" is asked as AWS would decide a request on an arbitrary resource of the right type: a
probe ARN in the account that names nobody (another user, a role, a policy, a group). So a
self-management policy scoped to `user/${aws:username}` does not open CreateAccessKey, while
`Resource: "*"` or `user/*` does. Actions on compute services (ec2:RunInstances...) count when
allowed on some resource. The request is signed with a fresh MFA session: the strongest
credential the principal can hold, so conditions on MFA do not hide a path.

Principals whose policies already allow "*" on "*" are admins, reported by the admin controls,
not as escalation. Service-linked roles are AWS's own and skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from iamlayer.access.context import Caller, RequestContext, Signing, UserRequestFacts, user_context
from iamlayer.access.evaluate import Decision, PolicySource, Request, evaluate
from iamlayer.access.policy import ResourceMode, compile_policy
from iamlayer.audit.model import AuthorizationDetails, LiveManagedPolicy, PolicyDoc, Principal
from iamlayer.spec.policy_grammar import full_admin_statements

#: The name of the resource every probe ARN names: nobody's, so only grants on "any" resource match.
PROBE = "iamlayer-audit-probe"

# Resource types a step is asked on.
ANY, USER, GROUP, ROLE, POLICY = "any", "user", "group", "role", "policy"


@dataclass(frozen=True)
class Step:
    action: str
    on: str  # ANY, USER, GROUP, ROLE or POLICY


@dataclass(frozen=True)
class Path:
    name: str
    steps: tuple[Step, ...]
    how: str  # what the holder does with it


def _path(name: str, how: str, *steps: tuple[str, str]) -> Path:
    return Path(name, tuple(Step(a, on) for a, on in steps), how)


PATHS: tuple[Path, ...] = (
    _path("CreatePolicyVersion", "writes a new default version of a policy attached to it",
          ("iam:CreatePolicyVersion", POLICY)),
    _path("SetDefaultPolicyVersion", "switches a policy to an older, broader version",
          ("iam:SetDefaultPolicyVersion", POLICY)),
    _path("PassRole+EC2", "runs an instance with a more privileged role and uses its credentials",
          ("iam:PassRole", ROLE), ("ec2:RunInstances", ANY)),
    _path("PassRole+Lambda", "creates and invokes a function running as a more privileged role",
          ("iam:PassRole", ROLE), ("lambda:CreateFunction", ANY), ("lambda:InvokeFunction", ANY)),
    _path("PassRole+Glue", "creates a Glue development endpoint with a more privileged role",
          ("iam:PassRole", ROLE), ("glue:CreateDevEndpoint", ANY)),
    _path("PassRole+CloudFormation", "creates a stack that acts as a more privileged role",
          ("iam:PassRole", ROLE), ("cloudformation:CreateStack", ANY)),
    _path("AttachUserPolicy", "attaches any managed policy (AdministratorAccess) to a user",
          ("iam:AttachUserPolicy", USER)),
    _path("AttachGroupPolicy", "attaches any managed policy to a group", ("iam:AttachGroupPolicy", GROUP)),
    _path("AttachRolePolicy", "attaches any managed policy to a role", ("iam:AttachRolePolicy", ROLE)),
    _path("PutUserPolicy", "writes an inline policy allowing anything on a user", ("iam:PutUserPolicy", USER)),
    _path("PutGroupPolicy", "writes an inline policy allowing anything on a group", ("iam:PutGroupPolicy", GROUP)),
    _path("PutRolePolicy", "writes an inline policy allowing anything on a role", ("iam:PutRolePolicy", ROLE)),
    _path("UpdateAssumeRolePolicy+AssumeRole", "makes a role trust it, then assumes the role",
          ("iam:UpdateAssumeRolePolicy", ROLE), ("sts:AssumeRole", ROLE)),
    _path("CreateAccessKey", "creates an access key for another user", ("iam:CreateAccessKey", USER)),
    _path("CreateLoginProfile", "sets a console password for another user", ("iam:CreateLoginProfile", USER)),
    _path("UpdateLoginProfile", "changes another user's console password", ("iam:UpdateLoginProfile", USER)),
    _path("AddUserToGroup", "adds itself to a more privileged group", ("iam:AddUserToGroup", GROUP)),
)  # fmt: skip


@dataclass(frozen=True)
class OpenPath:
    """A path the evaluator allows, and the statements that allow each step."""

    path: Path
    #: per step: (action, the deciding statements, e.g. "group devs / attached ops, statement 0, Allow")
    granted_by: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        by = {refs for _, refs in self.granted_by}
        if len(by) == 1:
            return f"{self.path.name} ({self.path.how}; allowed by {by.pop()})"
        steps = "; ".join(f"{action} by {refs}" for action, refs in self.granted_by)
        return f"{self.path.name} ({self.path.how}; {steps})"


@dataclass(frozen=True)
class Escalation:
    """What one principal can do: open paths, and paths that depend on documents not read."""

    principal: Principal
    open: tuple[OpenPath, ...]
    uncertain: tuple[tuple[Path, tuple[str, ...]], ...]  # (path, the unknown policy ARNs)


def _source(label: str, arn: str | None, doc: PolicyDoc | None) -> PolicySource:
    return PolicySource(label, arn, compile_policy(dict(doc)) if doc is not None else None)


def identity_sources(
    p: Principal, auth: AuthorizationDetails, policies: Mapping[str, LiveManagedPolicy]
) -> list[PolicySource]:
    """Every identity-based policy that applies to the principal's requests, labelled for people."""
    holders = [p] + [g for name in p.groups if (g := auth.group(name)) is not None]
    out: list[PolicySource] = []
    for h in holders:
        owner = f"{h.kind} {h.name}"
        out += [_source(f"{owner} / inline {n}", None, d) for n, d in h.inline.items()]
        for arn in h.attached:
            pol = policies.get(arn)
            name = pol.name if pol else arn.rsplit("/", 1)[-1]
            out.append(_source(f"{owner} / attached {name}", arn, pol.document if pol else None))
    return out


def is_admin(p: Principal, auth: AuthorizationDetails, policies: Mapping[str, LiveManagedPolicy]) -> bool:
    """Holds a policy (its own or a group's) that allows "*" on "*"."""
    holders = [p] + [g for name in p.groups if (g := auth.group(name)) is not None]
    docs: list[PolicyDoc] = [d for h in holders for d in h.inline.values()]
    docs += [policies[a].document for h in holders for a in h.attached if a in policies]
    return any(full_admin_statements(d) for d in docs)


def _caller_and_context(p: Principal, account_id: str, now: datetime) -> tuple[Caller, RequestContext]:
    path = p.path or "/"
    if p.kind == "user":
        facts = UserRequestFacts(account_id, p.name, path)
        return Caller.user(account_id, p.name, path), user_context(facts, Signing.with_mfa(0), now=now)
    caller = Caller.role_session(account_id, p.name, PROBE, path)
    ctx = RequestContext(
        {
            "aws:PrincipalArn": caller.role_arn or "",
            "aws:PrincipalAccount": account_id,
            "aws:PrincipalType": "AssumedRole",
            "aws:SecureTransport": "true",
            "aws:MultiFactorAuthPresent": "true",
            "aws:MultiFactorAuthAge": "0",
            "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(now.timestamp())),
        }
    )
    return caller, ctx


def _target(on: str, account_id: str) -> tuple[str, ResourceMode]:
    if on == ANY:
        return "*", ResourceMode.ANY
    return f"arn:aws:iam::{account_id}:{on}/{PROBE}", ResourceMode.ALL


def escalation_of(
    p: Principal,
    auth: AuthorizationDetails,
    policies: Mapping[str, LiveManagedPolicy],
    account_id: str,
    now: datetime,
    paths: Sequence[Path] = PATHS,
) -> Escalation:
    """Ask the evaluator every step of every path for one (non-admin) principal."""
    sources = identity_sources(p, auth, policies)
    boundary = None
    if p.boundary:
        pol = policies.get(p.boundary)
        boundary = _source(
            f"permissions boundary {p.boundary.rsplit('/', 1)[-1]}", p.boundary, pol.document if pol else None
        )
    caller, ctx = _caller_and_context(p, account_id, now)
    decisions: dict[Step, Decision] = {}
    opened: list[OpenPath] = []
    uncertain: list[tuple[Path, tuple[str, ...]]] = []
    for path in paths:
        granted: list[tuple[str, str]] = []
        unknown: set[str] = set()
        blocked = False
        for step in path.steps:
            if step not in decisions:
                resource, mode = _target(step.on, account_id)
                request = Request(caller, step.action, resource, ctx, mode)
                decisions[step] = evaluate(request, sources, boundary=boundary)
            d = decisions[step]
            unknown.update(d.unknown)
            if d.allowed:
                granted.append((step.action, "; ".join(str(r) for r in d.deciding)))
            else:
                blocked = True
        if not blocked:
            opened.append(OpenPath(path, tuple(granted)))
        elif unknown:
            uncertain.append((path, tuple(sorted(unknown))))
    return Escalation(p, tuple(opened), tuple(uncertain))
