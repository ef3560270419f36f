"""Who is, or can become, admin in an account: privilege escalation asked of the IAM policy
evaluator (`iamlayer.access`) on the account's real resources.

Every user and role (service-linked roles are AWS's own, skipped) is an actor. For each method of
the catalogue (`iamlayer.audit.escalation_paths`: Rhino Security Labs' 21, plus assuming a role),
the evaluator is asked whether the actor may perform each step on each actual target of the
account: every other user, every group, every role (for `iam:PassRole`, with the
`iam:PassedToService` the service sends, on roles that service may assume), every customer policy
with holders. `sts:AssumeRole` is asked against the role's trust policy. That gives edges:

- BECOME: the actor gets the target's permissions (access key, password, a role it assumes or
  passes to a service it then runs);
- GRANT: the actor makes the target admin (users and roles, the members of a group, the holders
  of a customer policy);
- JOIN: the actor (a user) adds itself to a group.

An actor can become admin when, following BECOME edges from it, it reaches an admin, or reaches
a principal that can GRANT admin to one it reaches (itself included), or can JOIN a group that is
or can be made admin. So `iam:AttachRolePolicy` is no escalation for a principal that can neither
pass nor assume a role: it may make a role admin, but never act as one.

The request is signed with a fresh MFA session (the strongest credential a principal can hold, so
conditions on MFA do not hide a path) in an open context: a key the request does not set and
AWS may send (a resource's tags, `iam:AssociatedResourceArn`, `aws:SourceIp`) is unknown, not
absent. A step the evaluator answers UNCERTAIN makes the path possible, not certain; so does a
method whose resource the audit does not read (an existing Lambda function's role). A path that
is uncertain because a policy document was not read is an error, not a finding.

A principal is admin when a policy it holds (its own or a group's) allows "*" on "*"; admin roles
that people can assume without MFA are flagged too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iamlayer.access.context import (
    ABSENT_IN_DIRECT_USER_CALL,
    NO_MFA_SIGNINGS,
    Caller,
    RequestContext,
    Signing,
    UserRequestFacts,
    user_context,
)
from iamlayer.access.evaluate import Decision, PolicySource, Request, evaluate
from iamlayer.access.patterns import Pattern
from iamlayer.access.policy import CompiledPolicy, ResourceMode, compile_policy
from iamlayer.audit.escalation_paths import (
    ASSUME_ROLE,
    BECOME,
    GRANT,
    GROUP,
    JOIN,
    METHODS,
    ON_ANY,
    POLICY,
    ROLE,
    USER,
    Method,
    Step,
)
from iamlayer.audit.model import AuthorizationDetails, LiveManagedPolicy, PolicyDoc, Principal
from iamlayer.spec.policy_grammar import full_admin_statements

#: The methods, by name (the catalogue's order).
PATHS: tuple[Method, ...] = METHODS

# How sure an answer is: allowed, maybe (UNCERTAIN), denied.
YES, MAYBE, NO = 2, 1, 0

# How a principal is or becomes admin (the report's first section).
DIRECT, THROUGH_GROUP, BY_ASSUMING, BY_ESCALATION = "direct", "group", "assume", "escalation"


@dataclass(frozen=True)
class Answer:
    """One step's answer, with the statements that decided it and what it depends on."""

    level: int  # YES, MAYBE or NO
    by: str = ""
    unknown_docs: tuple[str, ...] = ()
    unknown_keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, d: Decision) -> Answer:
        level = MAYBE if not d.certain else YES if d.allowed else NO
        by = "; ".join(str(r) for r in d.deciding) or "; ".join(str(m.statement) for m in d.undecided)
        return cls(level, by, d.unknown, d.unknown_keys)


NO_ANSWER = Answer(NO)


@dataclass(frozen=True)
class StepDone:
    """A step of an edge, as asked: the action, the resource (a ref, or "*"), the answer."""

    action: str
    resource: str
    answer: Answer

    def describe(self) -> str:
        by = f" allowed by {self.answer.by}" if self.answer.by else ""
        maybe = ""
        if self.answer.level == MAYBE:
            keys = ", ".join(self.answer.unknown_keys + self.answer.unknown_docs)
            maybe = f" (uncertain: depends on {keys})" if keys else " (uncertain)"
        return f"{self.action} on {self.resource}{by}{maybe}"

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "resource": self.resource,
            "allowed_by": self.answer.by,
            "certain": self.answer.level == YES,
            "unknown_context_keys": list(self.answer.unknown_keys),
            "unknown_policies": list(self.answer.unknown_docs),
        }


@dataclass(frozen=True)
class Edge:
    """What an actor can do to a target with one method."""

    method: Method
    actor: str  # ref, e.g. user/bob
    target: str  # ref of the resource aimed at: user/x, group/g, role/r, policy/p
    gives: tuple[str, ...]  # BECOME: the target; GRANT: the principals made admin; JOIN: ()
    steps: tuple[StepDone, ...]
    certain: bool
    why_possible: str = ""  # for an uncertain edge: why

    @property
    def unknown_docs(self) -> tuple[str, ...]:
        return tuple(d for s in self.steps for d in s.answer.unknown_docs)

    def describe(self) -> str:
        possible = f"; possible: {self.why_possible}" if self.why_possible else ""
        steps = "; ".join(s.describe() for s in self.steps)
        return f"{self.method.name} {self.target} ({self.method.how}; {steps}{possible})"

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method.name,
            "actor": self.actor,
            "target": self.target,
            "how": self.method.how,
            "certain": self.certain,
            "why_possible": self.why_possible or None,
            "steps": [s.as_json() for s in self.steps],
        }


@dataclass(frozen=True)
class Reach:
    """How a principal is, or can become, admin."""

    principal: Principal
    how: str  # DIRECT, THROUGH_GROUP, BY_ASSUMING or BY_ESCALATION
    admin: str  # the admin reached (a ref), or the admin policy held
    path: tuple[Edge, ...] = ()
    certain: bool = True

    @property
    def unknown_docs(self) -> tuple[str, ...]:
        return tuple(sorted({d for e in self.path for d in e.unknown_docs}))

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.method.name for e in self.path))

    def describe(self) -> str:
        if not self.path:
            return f"holds {self.admin}"
        chain = ", then ".join(e.describe() for e in self.path)
        return f"{chain} -> admin: {self.admin}"

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.principal.ref,
            "how": self.how,
            "reaches": self.admin,
            "certain": self.certain,
            "steps": [e.as_json() for e in self.path],
        }


@dataclass(frozen=True)
class AccountEscalation:
    """Everyone who is or can become admin in one account, and the admin roles people assume
    without MFA."""

    reaches: tuple[Reach, ...]
    checked: int  # users and roles looked at (not service-linked)
    #: (admin role, the users who may assume it without MFA)
    no_mfa: tuple[tuple[Principal, tuple[str, ...]], ...] = ()

    @property
    def admins(self) -> tuple[Reach, ...]:
        return tuple(r for r in self.reaches if r.how in (DIRECT, THROUGH_GROUP))

    @property
    def escalations(self) -> tuple[Reach, ...]:
        return tuple(r for r in self.reaches if r.how in (BY_ASSUMING, BY_ESCALATION))


# --- the principal's policies --------------------------------------------------------------------


#: Compiled documents by the identity of the document: a group's policies are compiled once for
#: all its members.
Compiled = dict[int, CompiledPolicy]


def _source(
    label: str, arn: str | None, doc: PolicyDoc | None, compiled: Compiled | None = None
) -> PolicySource:
    if doc is None:
        return PolicySource(label, arn, None)
    if compiled is None:
        return PolicySource(label, arn, compile_policy(dict(doc)))
    policy = compiled.get(id(doc))
    if policy is None:
        policy = compiled[id(doc)] = compile_policy(dict(doc))
    return PolicySource(label, arn, policy)


def identity_sources(
    p: Principal,
    auth: AuthorizationDetails,
    policies: Mapping[str, LiveManagedPolicy],
    compiled: Compiled | None = None,
) -> list[PolicySource]:
    """Every identity-based policy that applies to the principal's requests, labelled for people."""
    holders = [p] + [g for name in p.groups if (g := auth.group(name)) is not None]
    out: list[PolicySource] = []
    for h in holders:
        owner = f"{h.kind} {h.name}"
        out += [_source(f"{owner} / inline {n}", None, d, compiled) for n, d in h.inline.items()]
        for arn in h.attached:
            pol = policies.get(arn)
            name = pol.name if pol else arn.rsplit("/", 1)[-1]
            out.append(_source(f"{owner} / attached {name}", arn, pol.document if pol else None, compiled))
    return out


def _admin_policy(h: Principal, policies: Mapping[str, LiveManagedPolicy]) -> str | None:
    """The first policy of `h` itself (not its groups) that allows "*" on "*", named for people."""
    for name, doc in h.inline.items():
        if full_admin_statements(doc):
            return f"inline {name}"
    for arn in h.attached:
        pol = policies.get(arn)
        if pol is not None and full_admin_statements(pol.document):
            return f"{pol.kind} policy {pol.name}"
    return None


def is_admin(p: Principal, auth: AuthorizationDetails, policies: Mapping[str, LiveManagedPolicy]) -> bool:
    """Holds a policy (its own or a group's) that allows "*" on "*"."""
    holders = [p] + [g for name in p.groups if (g := auth.group(name)) is not None]
    return any(_admin_policy(h, policies) for h in holders)


def arn_of(p: Principal, account_id: str) -> str:
    """The principal's ARN, from its account, path and name (inputs built by hand may carry a
    placeholder in `arn`)."""
    return f"arn:aws:iam::{account_id}:{p.kind}{p.path or '/'}{p.name}"


# --- one actor ----------------------------------------------------------------------------------


def _role_context(account_id: str, role_arn: str, now: datetime) -> RequestContext:
    values: dict[str, str | Sequence[str]] = {
        "aws:PrincipalArn": role_arn,
        "aws:PrincipalAccount": account_id,
        "aws:PrincipalType": "AssumedRole",
        "aws:SecureTransport": "true",
        "aws:MultiFactorAuthPresent": "true",
        "aws:MultiFactorAuthAge": "0",
        "aws:RequestedRegion": "us-east-1",
        "aws:ViaAWSService": "false",
        "aws:PrincipalIsAWSService": "false",
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
    }
    return RequestContext(
        values,
        open_world=True,
        absent=(*ABSENT_IN_DIRECT_USER_CALL, "aws:username"),
        absent_prefixes=("aws:PrincipalTag/",),
    )


@dataclass(frozen=True)
class _Matcher:
    everything: bool
    literals: frozenset[str] = frozenset()
    wild: tuple[Pattern, ...] = ()


_EVERYTHING = _Matcher(True)


def _no_value(_key: str) -> str | None:
    return None


class Actor:
    """A user or role, as the evaluator sees its requests; answers are cached per request."""

    def __init__(
        self,
        p: Principal,
        auth: AuthorizationDetails,
        policies: Mapping[str, LiveManagedPolicy],
        account_id: str,
        now: datetime,
        signing: Signing | None = None,
        compiled: Compiled | None = None,
    ) -> None:
        self.p = p
        self.arn = arn_of(p, account_id)
        self.sources = identity_sources(p, auth, policies, compiled)
        self.boundary: PolicySource | None = None
        if p.boundary:
            pol = policies.get(p.boundary)
            label = f"permissions boundary {p.boundary.rsplit('/', 1)[-1]}"
            self.boundary = _source(label, p.boundary, pol.document if pol else None, compiled)
        if p.kind == "user":
            self.caller = Caller.user(account_id, p.name, p.path or "/")
            facts = UserRequestFacts(account_id, p.name, p.path or "/")
            self.ctx = user_context(facts, signing or Signing.with_mfa(0), now=now, open_world=True)
        else:
            self.caller = Caller.role_session(account_id, p.name, "iamlayer-audit", p.path or "/")
            self.ctx = _role_context(account_id, self.arn, now)
        self._answers: dict[tuple[str, str, str | None, int], Answer] = {}
        self._allows: dict[str, _Matcher] = {}
        own = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": self.arn}, "Action": "sts:AssumeRole"}]}
        self.own_trust = _source("the trust policy it would write", None, own)

    def ask(
        self,
        action: str,
        resource: str,
        *,
        passed_to: str | None = None,
        trust: PolicySource | None = None,
    ) -> Answer:
        """May the actor do `action` on `resource` (an ARN, or "*": on some resource)?"""
        key = (action, resource, passed_to, id(trust) if trust is not None else 0)
        hit = self._answers.get(key)
        if hit is None:
            ctx = self.ctx.with_values({"iam:PassedToService": passed_to}) if passed_to else self.ctx
            mode = ResourceMode.ANY if resource == "*" else ResourceMode.LITERAL
            request = Request(self.caller, action, resource, ctx, mode)
            hit = Answer.of(evaluate(request, self.sources, boundary=self.boundary, resource_policy=trust))
            self._answers[key] = hit
        return hit

    def _matcher(self, action: str) -> _Matcher:
        """The resources the Allow statements naming `action` could match, variables resolved;
        everything when one has no Resource, a NotResource or a variable whose value is unknown,
        or a document is not known."""
        literals: set[str] = set()
        wild: list[Pattern] = []
        look = self.ctx.single
        for src in self.sources:
            if src.policy is None:
                return _EVERYTHING
            for st in src.policy.statements:
                if st.effect != "Allow" or not st.matches_action(action):
                    continue
                if st.resources is None or st.not_resource:
                    return _EVERYTHING
                for pat in st.resources:
                    if any(not self.ctx.known(v.key) for v in pat.variables()) or pat.is_everything:
                        return _EVERYTHING
                    resolved = pat.resolve(look)
                    if resolved is None:
                        continue  # a variable with no value matches nothing
                    if all(isinstance(t, str) for t in resolved):
                        literals.add("".join(str(t) for t in resolved))
                    else:
                        wild.append(Pattern(pat.text, resolved))
        return _Matcher(False, frozenset(literals), tuple(wild))

    def could_allow(self, action: str, arn: str) -> bool:
        """A cheap over-approximation: might an identity policy allow `action` on `arn`?
        (Only the Allow statements that name the action are matched against the ARN; the
        evaluator then decides the candidates.)"""
        m = self._allows.get(action)
        if m is None:
            m = self._allows[action] = self._matcher(action)
        return m.everything or arn in m.literals or any(p.matches(arn, _no_value, kind="arn") for p in m.wild)


def _trust_names(trust: PolicySource | None, caller: Caller) -> bool:
    """Whether an Allow of the trust policy could apply to `caller` (by ARN, account or "*")."""
    if trust is None or trust.policy is None:
        return trust is not None
    for st in trust.policy.statements:
        if st.effect != "Allow" or not st.matches_action("sts:AssumeRole") or st.principal is None:
            continue
        if st.not_principal or st.principal.match(caller) is not None:
            return True
    return False


# --- the account --------------------------------------------------------------------------------


@dataclass
class _Account:
    auth: AuthorizationDetails
    policies: Mapping[str, LiveManagedPolicy]
    account_id: str
    now: datetime
    actors: dict[str, Principal] = field(default_factory=dict)
    trusts: dict[str, PolicySource] = field(default_factory=dict)
    service_trust: dict[tuple[str, str], Answer] = field(default_factory=dict)
    compiled: Compiled = field(default_factory=dict)
    _members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _targets: dict[tuple[str, str], list[tuple[str, str, tuple[str, ...], Principal | None]]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        for p in (*self.auth.users, *self.auth.roles):
            if not p.service_linked:
                self.actors[p.ref] = p
        for r in self.auth.roles:
            if r.trust is not None and not r.service_linked:
                self.trusts[r.ref] = _source(f"trust policy of role {r.name}", None, r.trust)
        for u in self.auth.users:
            for g in u.groups:
                self._members[g] = (*self._members.get(g, ()), u.ref)

    def actor(self, p: Principal, signing: Signing | None = None) -> Actor:
        return Actor(p, self.auth, self.policies, self.account_id, self.now, signing, self.compiled)

    def arn(self, p: Principal) -> str:
        return arn_of(p, self.account_id)

    def trusted_by(self, role: Principal, service: str) -> Answer:
        """May `service` assume the role (its trust policy names the service)?"""
        key = (role.ref, service)
        if key not in self.service_trust:
            trust = self.trusts.get(role.ref)
            if trust is None:
                self.service_trust[key] = NO_ANSWER
            else:
                request = Request(Caller.service(service), "sts:AssumeRole", self.arn(role),
                                  RequestContext(open_world=True))  # fmt: skip
                self.service_trust[key] = Answer.of(evaluate(request, [], resource_policy=trust))
        return self.service_trust[key]

    def members(self, group: str) -> tuple[str, ...]:
        return self._members.get(group, ())

    def holders(self, arn: str) -> tuple[str, ...]:
        out: list[str] = []
        for h in self.auth.attached_to(arn):
            out += self.members(h.name) if h.kind == GROUP else [h.ref] if h.ref in self.actors else []
        return tuple(dict.fromkeys(out))

    def targets(
        self, method: Method, actor: Actor
    ) -> Iterable[tuple[str, str, tuple[str, ...], Principal | None]]:
        """(ref, ARN, what it gives, the role) for each resource of the account the method aims at."""
        me = actor.p
        key = (method.target, method.effect)
        if key not in self._targets:
            self._targets[key] = list(self._all_targets(method))
        for t in self._targets[key]:
            if method.effect == JOIN and (me.kind != USER or t[0].removeprefix("group/") in me.groups):
                continue
            if method.effect == BECOME and t[0] == me.ref:
                continue
            yield t

    def _all_targets(self, method: Method) -> Iterable[tuple[str, str, tuple[str, ...], Principal | None]]:
        if method.target == USER:
            for u in self.auth.users:
                if u.ref in self.actors:
                    yield u.ref, self.arn(u), (u.ref,), None
        elif method.target == ROLE:
            for r in self.auth.roles:
                if r.ref in self.actors:
                    yield r.ref, self.arn(r), (r.ref,), r
        elif method.target == GROUP:
            for g in self.auth.groups:
                yield g.ref, self.arn(g), self.members(g.name) if method.effect == GRANT else (), None
        elif method.target == POLICY:
            for pol in self.auth.policies:
                holders = self.holders(pol.arn)
                if holders:
                    yield f"policy/{pol.name}", pol.arn, holders, None

    def edges(self, actor: Actor) -> list[Edge]:
        """Every edge from `actor`, method by method, target by target."""
        out: list[Edge] = []
        for method in (ASSUME_ROLE, *METHODS):
            out += self._method_edges(method, actor)
        return out

    def _method_edges(self, method: Method, actor: Actor) -> list[Edge]:
        # On some resource first: a method none of whose steps can be allowed anywhere is closed.
        anywhere = {
            s: actor.ask(s.action, "*", passed_to=s.passed_to) for s in method.steps if not s.own_trust
        }
        if method is not ASSUME_ROLE and any(a.level == NO for a in anywhere.values()):
            return []
        out: list[Edge] = []
        for ref, arn, gives, role in self.targets(method, actor):
            service = Answer(YES)
            if method.trusted_by is not None:
                assert role is not None
                service = self.trusted_by(role, method.trusted_by)
                if service.level == NO:
                    continue
            steps = self._steps(method, actor, ref, arn, anywhere)
            if steps is None:
                continue
            levels = [s.answer.level for s in steps] + [service.level]
            why: list[str] = []
            if method.unread:
                why.append(method.unread)
            if service.level == MAYBE:
                why.append(f"whether {method.trusted_by} may assume {ref} depends on "
                           + ", ".join(service.unknown_keys or service.unknown_docs))  # fmt: skip
            if MAYBE in levels and service.level != MAYBE:
                why.append("a step is uncertain")
            certain = min(levels) == YES and not method.unread
            out.append(Edge(method, actor.p.ref, ref, gives, tuple(steps), certain, "; ".join(why)))
        return out

    def _steps(
        self, method: Method, actor: Actor, ref: str, arn: str, anywhere: Mapping[Step, Answer]
    ) -> list[StepDone] | None:
        steps: list[StepDone] = []
        for step in method.steps:
            if step.on == ON_ANY:
                answer = anywhere[step]
                steps.append(StepDone(step.action, "*", answer))
                continue
            if step.action.lower() == "sts:assumerole":
                trust = actor.own_trust if step.own_trust else self.trusts.get(ref)
                if trust is None or (not step.own_trust and not _trust_names(trust, actor.caller)):
                    return None
                answer = actor.ask(step.action, arn, trust=trust)
            else:
                if not actor.could_allow(step.action, arn):
                    return None
                answer = actor.ask(step.action, arn, passed_to=step.passed_to)
            if answer.level == NO:
                return None
            steps.append(StepDone(step.action, ref, answer))
        return steps


def _search(
    start: str,
    edges: Mapping[str, Sequence[Edge]],
    admins: Mapping[str, str],
    group_admin: Mapping[str, str],
) -> tuple[tuple[Edge, ...], str] | None:
    """The shortest way from `start` to admin over `edges`: (the edges, the admin reached), or None."""
    usable = edges
    path: dict[str, tuple[Edge, ...]] = {start: ()}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for e in usable.get(node, ()):
            if e.method.effect == BECOME and e.gives[0] not in path:
                path[e.gives[0]] = (*path[node], e)
                queue.append(e.gives[0])
    found: list[tuple[tuple[Edge, ...], str]] = []
    for node, via in path.items():
        if node != start and node in admins:
            found.append((via, node))
    # Groups someone reached can make admin, and grants that land on a principal reached.
    grantable: dict[str, tuple[Edge, ...]] = {}
    for node, via in path.items():
        for e in usable.get(node, ()):
            if e.method.effect != GRANT:
                continue
            if e.target.startswith("group/"):
                grantable.setdefault(e.target, (*via, e))
            for q in e.gives:
                if q in path:
                    then = path[q] if q != node else ()
                    found.append(((*via, e, *then), q))
    for node, via in path.items():
        for e in usable.get(node, ()):
            if e.method.effect != JOIN:
                continue
            if e.target in group_admin:
                found.append(((*via, e), node))
            elif e.target in grantable:
                found.append(((*via, e, *grantable[e.target]), node))
    return min(found, key=lambda f: len(f[0])) if found else None


def analyze(
    auth: AuthorizationDetails,
    policies: Mapping[str, LiveManagedPolicy],
    account_id: str,
    now: datetime,
) -> AccountEscalation:
    """Who is or can become admin in the account (see the module docstring)."""
    acct = _Account(auth, policies, account_id, now)
    group_admin = {g.ref: pol for g in auth.groups if (pol := _admin_policy(g, policies))}
    reaches: list[Reach] = []
    admins: dict[str, str] = {}
    for ref, p in acct.actors.items():
        own = _admin_policy(p, policies)
        if own:
            reaches.append(Reach(p, DIRECT, own))
            admins[ref] = own
            continue
        via = next(
            (f"group {g} ({group_admin[f'group/{g}']})" for g in p.groups if f"group/{g}" in group_admin),
            None,
        )
        if via:
            reaches.append(Reach(p, THROUGH_GROUP, via))
            admins[ref] = via
    actors = {ref: acct.actor(p) for ref, p in acct.actors.items() if ref not in admins}
    edges = {ref: acct.edges(a) for ref, a in actors.items()}
    certain_edges = {ref: [e for e in es if e.certain] for ref, es in edges.items()}
    for ref, p in acct.actors.items():
        if ref in admins:
            continue
        for certain, usable in ((True, certain_edges), (False, edges)):
            hit = _search(ref, usable, admins, group_admin)
            if hit is not None:
                path, admin = hit
                how = BY_ASSUMING if all(e.method is ASSUME_ROLE for e in path) else BY_ESCALATION
                reaches.append(Reach(p, how, admin, path, certain))
                break
    return AccountEscalation(tuple(reaches), len(acct.actors), _no_mfa(acct, reaches, edges))


def _no_mfa(
    acct: _Account, reaches: Sequence[Reach], edges: Mapping[str, Sequence[Edge]]
) -> tuple[tuple[Principal, tuple[str, ...]], ...]:
    """Admin roles (or roles that certainly become admin) users who are not admins already may
    assume without MFA (with a long-term access key, or a session signed in without MFA)."""
    admin_roles = [r.principal for r in reaches if r.principal.kind == ROLE and r.certain]
    assumers: dict[str, list[str]] = {}  # role -> the users (not admins) who may assume it, with MFA
    for ref, es in edges.items():
        for e in es:
            if e.method is ASSUME_ROLE and ref.startswith("user/"):
                assumers.setdefault(e.target, []).append(ref)
    out: list[tuple[Principal, tuple[str, ...]]] = []
    for role in admin_roles:
        trust = acct.trusts.get(role.ref)
        if trust is None:
            continue
        who: list[str] = []
        for ref in assumers.get(role.ref, ()):
            p = acct.actors[ref]
            for signing in NO_MFA_SIGNINGS:
                bare = acct.actor(p, signing)
                if bare.ask("sts:AssumeRole", acct.arn(role), trust=trust).level == YES:
                    who.append(ref)
                    break
        if who:
            out.append((role, tuple(who)))
    return tuple(out)


# One analysis per account read, shared by the control and the report's first section.
_CACHE: dict[tuple[int, int, str, datetime], tuple[object, object, AccountEscalation]] = {}


def account_escalation(
    auth: AuthorizationDetails,
    aws_managed: Sequence[LiveManagedPolicy],
    account_id: str,
    now: datetime,
) -> AccountEscalation:
    """`analyze` over the customer policies and the attached AWS-managed ones, computed once per
    (authorization details, AWS-managed documents, account, time) and reused."""
    key = (id(auth), id(aws_managed), account_id, now)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is auth and hit[1] is aws_managed:
        return hit[2]
    policies = {p.arn: p for p in (*auth.policies, *aws_managed)}
    result = analyze(auth, policies, account_id, now)
    if len(_CACHE) >= 32:
        _CACHE.clear()
    _CACHE[key] = (auth, aws_managed, result)
    return result
