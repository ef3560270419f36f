"""Whole-request evaluation, as AWS's "Policy evaluation logic" describes it for the policies this
layer writes and reads: identity-based policies, a permissions boundary, and one resource-based
policy (a role's trust policy). Organizations SCPs/RCPs and session policies are not modelled.

1. An explicit Deny in any of them decides: denied.
2. Identity-based policies (the user's inline and attached, every group's inline and attached)
   grant; a permissions boundary, when set, must also allow (it only limits, never grants).
3. A resource-based policy:
   - in the same account, a statement naming the caller (its ARN, or `*`) grants by itself,
     without an identity-based allow and, for IAM users, not limited by the boundary; a
     statement naming the caller's account delegates to the account's identity-based policies;
   - a role trust policy must always allow the caller explicitly, even in the same account
     ("Role trust policies and KMS key policies are exceptions ... they must explicitly allow
     access for principals");
   - across accounts, the resource-based policy AND the caller's identity-based policies must
     both allow.
   - across accounts without a resource-based policy (every IAM resource but a role's trust
     policy, for instance), nothing grants: denied, whatever the identity-based policies say
     ("the resource-based policy AND the identity-based policy must both allow");
4. Otherwise: implicitly denied.

`sts:GetCallerIdentity` is decided before all of this: "No permissions are required to perform
this operation. If an administrator attaches a policy to your identity that explicitly denies
access to the sts:GetCallerIdentity action, you can still perform this operation" (STS API
reference).

Unknown request context: a statement whose conditions read a key whose value is not known (an
open RequestContext: aws:SourceIp, a resource's tags, a request parameter) may or may not apply.
The request is then decided twice more, with every such Allow applying and every such Deny not
(the most the request can get), and the other way round (the least); when either differs from
the answer with none of them applying, the Decision is uncertain and names the keys
(`unknown_keys`) and the statements (`undecided`). Its `decision` stays the answer as far as the
known context goes.

A policy whose document is not known (an AWS-managed policy offline) is not guessed: the
evaluation is repeated with the unknown documents contributing nothing, an Allow, or a Deny;
when the answers differ, the Decision is uncertain and names those policies. Its `decision`
is then the answer as far as the known documents go.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from iamlayer.access.context import Caller, CallerKind, RequestContext
from iamlayer.access.policy import (
    CompiledPolicy,
    Miss,
    PrincipalLevel,
    ResourceMode,
    Statement,
)


class DecisionKind(StrEnum):
    """How a Decision came about (AWS's EvalDecision). Resource kinds are iamlayer.plan.model.Kind."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"


class Layer(StrEnum):
    """The role a policy plays in a request."""

    IDENTITY = "identity"
    BOUNDARY = "boundary"
    RESOURCE = "resource"


@dataclass(frozen=True)
class PolicySource:
    """A policy as the evaluator sees it: a label for people, its ARN, and its document.

    `policy` None means the document is not known (e.g. an AWS-managed policy, offline).
    """

    label: str  # "group devops / inline self-management"
    arn: str | None
    policy: CompiledPolicy | None

    @property
    def known(self) -> bool:
        return self.policy is not None


@dataclass(frozen=True)
class StatementRef:
    """A statement, named so a person can find it."""

    policy: str  # the PolicySource label
    index: int
    sid: str | None
    effect: str

    def __str__(self) -> str:
        sid = f" ({self.sid})" if self.sid else ""
        return f"{self.policy}, statement {self.index}{sid}, {self.effect}"

    def as_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "statement": self.index, "sid": self.sid, "effect": self.effect}


@dataclass(frozen=True)
class NearMiss:
    """An Allow statement that almost applied, and what it lacked."""

    statement: StatementRef
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.statement.policy}, statement {self.statement.index}"
            + (f" ({self.statement.sid})" if self.statement.sid else "")
            + f": {self.reason}"
        )

    def as_json(self) -> dict[str, Any]:
        return {**self.statement.as_json(), "reason": self.reason}


@dataclass(frozen=True)
class Decision:
    """The answer to one request."""

    decision: str  # "allow" or "deny"
    kind: DecisionKind
    deciding: tuple[StatementRef, ...] = ()
    reasons: tuple[str, ...] = ()  # for denials: which requirement was not met
    near_misses: tuple[NearMiss, ...] = ()
    unknown: tuple[str, ...] = ()  # ARNs of unknown documents the answer depends on
    unknown_keys: tuple[str, ...] = ()  # context keys, not known, the answer depends on
    undecided: tuple[NearMiss, ...] = ()  # statements that apply or not with those keys

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    @property
    def certain(self) -> bool:
        return not self.unknown and not self.unknown_keys

    def as_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "kind": self.kind.value,
            "certain": self.certain,
            "deciding_statements": [s.as_json() for s in self.deciding],
            "reasons": list(self.reasons),
            "near_misses": [m.as_json() for m in self.near_misses],
            "unknown_policies": list(self.unknown),
            "unknown_context_keys": list(self.unknown_keys),
            "undecided_statements": [m.as_json() for m in self.undecided],
        }

    def explain(self) -> list[str]:
        """Lines for people: what decided, or why not."""
        lines: list[str] = []
        if self.kind is DecisionKind.ALLOW:
            lines += [f"allowed by {s}" for s in self.deciding]
        elif self.kind is DecisionKind.EXPLICIT_DENY:
            lines += [f"explicitly denied by {s}" for s in self.deciding]
        lines += list(self.reasons)
        lines += [f"near miss: {m}" for m in self.near_misses]
        if self.unknown:
            lines.append(
                "uncertain: the answer could change with "
                + ", ".join(self.unknown)
                + " (a document not known: `--live` reads AWS-managed policies from AWS)"
            )
        if self.unknown_keys:
            lines.append(
                "uncertain: the answer depends on "
                + ", ".join(self.unknown_keys)
                + ", whose value the evaluator cannot know (`--context KEY=VALUE` sets it)"
            )
            lines += [f"undecided: {m}" for m in self.undecided]
        return lines


@dataclass(frozen=True)
class Request:
    """One API call: who, what, on which resource (an ARN, or `*`), with which context."""

    caller: Caller
    action: str
    resource: str
    context: RequestContext
    mode: ResourceMode = ResourceMode.LITERAL  # what a request on `*` asks (see iamlayer.access.policy)


@dataclass
class _LayerFacts:
    """What the statements of one layer say about a request."""

    denies: list[StatementRef] = field(default_factory=list)
    allows: list[tuple[StatementRef, PrincipalLevel | None]] = field(default_factory=list)
    near: list[NearMiss] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # ARNs (or labels) of unknown documents
    # statements that apply or not depending on context keys not known, with those keys
    maybe_denies: list[tuple[NearMiss, tuple[str, ...]]] = field(default_factory=list)
    maybe_allows: list[tuple[NearMiss, PrincipalLevel | None, tuple[str, ...]]] = field(default_factory=list)

    def allow_refs(self, maybe: bool) -> list[tuple[StatementRef, PrincipalLevel | None]]:
        return self.allows + ([(m.statement, level) for m, level, _ in self.maybe_allows] if maybe else [])

    def any_deny(self, maybe: bool) -> bool:
        return bool(self.denies) or (maybe and bool(self.maybe_denies))


def _ref(source: PolicySource, st: Statement) -> StatementRef:
    return StatementRef(source.label, st.index, st.sid, st.effect)


def _collect(
    sources: Iterable[PolicySource], request: Request, resource_policy: bool, boundary: bool = False
) -> _LayerFacts:
    facts = _LayerFacts()
    caller = request.caller if resource_policy else None
    for source in sources:
        if source.policy is None:
            facts.unknown.append(source.arn or source.label)
            continue
        for st in source.policy.statements:
            out = st.outcome(
                request.action, request.resource, request.context, caller, request.mode, boundary=boundary
            )
            if out.maybe:
                miss = NearMiss(_ref(source, st), out.detail)
                if st.effect == "Deny":
                    facts.maybe_denies.append((miss, out.unknown))
                else:
                    facts.maybe_allows.append((miss, out.level, out.unknown))
            elif out.applies:
                if st.effect == "Deny":
                    facts.denies.append(_ref(source, st))
                else:
                    facts.allows.append((_ref(source, st), out.level))
            elif st.effect == "Allow" and out.miss is not Miss.ACTION:
                facts.near.append(NearMiss(_ref(source, st), out.detail))
    return facts


# What an unknown document could contribute: nothing, an applying Allow (for a resource-based
# policy: naming the caller directly, or its account), or an applying Deny.
_NONE, _ALLOW, _DENY = "none", "allow", "deny"
_ALLOW_DIRECT, _ALLOW_ACCOUNT = "allow-direct", "allow-account"

GET_CALLER_IDENTITY = "sts:getcalleridentity"


@dataclass(frozen=True)
class _Verdict:
    allowed: bool
    explicit: bool


def evaluate(
    request: Request,
    identity: Sequence[PolicySource],
    *,
    boundary: PolicySource | None = None,
    resource_policy: PolicySource | None = None,
    resource_account: str | None = None,
    resource_name: str | None = None,
) -> Decision:
    """Decide `request` for a caller with these identity policies (and boundary), against a
    resource that has `resource_policy` (a role's trust policy) in `resource_account`.
    `resource_name` is how explanations name the resource (default: its ARN).

    A resource in another account with no `resource_policy` has none: nothing grants across
    accounts then. Pass an unknown PolicySource when the resource may have one."""
    # AWS services and federated or anonymous callers have no identity-based policies of their own.
    has_identity = request.caller.kind in (CallerKind.USER, CallerKind.ASSUMED_ROLE, CallerKind.ROOT)
    if has_identity and request.action.lower() == GET_CALLER_IDENTITY:
        return Decision(
            "allow",
            DecisionKind.ALLOW,
            reasons=(
                "sts:GetCallerIdentity needs no permission: AWS answers it even under an explicit Deny",
            ),
        )
    bounded = boundary is not None
    idf = _collect(identity, request, False)
    bdf = _collect([boundary] if boundary else [], request, False)
    rpf = _collect([resource_policy] if resource_policy else [], request, True, bounded)
    same_account = resource_account is None or resource_account == request.caller.account
    user_grant = request.caller.kind is CallerKind.USER  # not limited by its boundary (see module doc)

    def verdict(
        id_u: str, bd_u: str, rp_u: str, allow_maybe: bool = False, deny_maybe: bool = False
    ) -> _Verdict:
        if idf.any_deny(deny_maybe) or bdf.any_deny(deny_maybe) or rpf.any_deny(deny_maybe):
            return _Verdict(False, True)
        if _DENY in (id_u, bd_u, rp_u):
            return _Verdict(False, True)
        identity_ok = bool(idf.allow_refs(allow_maybe)) or id_u == _ALLOW
        boundary_ok = boundary is None or bool(bdf.allow_refs(allow_maybe)) or bd_u == _ALLOW
        if resource_policy is None:
            if not same_account and has_identity:
                return _Verdict(False, False)  # across accounts, no resource-based policy grants
            return _Verdict(identity_ok and boundary_ok, False)
        levels = {level for _, level in rpf.allow_refs(allow_maybe)}
        direct = bool(levels & {PrincipalLevel.DIRECT, PrincipalLevel.ANYONE}) or rp_u == _ALLOW_DIRECT
        account = PrincipalLevel.ACCOUNT in levels or rp_u == _ALLOW_ACCOUNT
        if not has_identity:
            return _Verdict(direct, False)  # a service or federated caller: the grant is all there is
        if same_account:
            if direct and (user_grant or boundary_ok):
                return _Verdict(True, False)
            return _Verdict(account and identity_ok and boundary_ok, False)
        return _Verdict((direct or account) and identity_ok and boundary_ok, False)

    id_opts = [_NONE, _ALLOW, _DENY] if idf.unknown else [_NONE]
    bd_opts = [_NONE, _ALLOW, _DENY] if bdf.unknown else [_NONE]
    rp_opts = [_NONE, _ALLOW_DIRECT, _ALLOW_ACCOUNT, _DENY] if rpf.unknown else [_NONE]
    base = verdict(_NONE, _NONE, _NONE)
    unknown: list[str] = []
    if len(id_opts) * len(bd_opts) * len(rp_opts) > 1:
        outcomes = {verdict(*combo).allowed for combo in itertools.product(id_opts, bd_opts, rp_opts)}
        if len(outcomes) > 1:
            unknown = sorted({*idf.unknown, *bdf.unknown, *rpf.unknown})
    # Context keys not known: the most and the least the request can get.
    unknown_keys: dict[str, None] = {}
    undecided: list[NearMiss] = []
    if verdict(_NONE, _NONE, _NONE, allow_maybe=True).allowed != base.allowed:
        for f in (idf, bdf, rpf):
            for miss, _, keys in f.maybe_allows:
                unknown_keys.update(dict.fromkeys(keys))
                undecided.append(miss)
    if verdict(_NONE, _NONE, _NONE, deny_maybe=True).allowed != base.allowed:
        for f in (idf, bdf, rpf):
            for miss, keys in f.maybe_denies:
                unknown_keys.update(dict.fromkeys(keys))
                undecided.append(miss)
    keys_t, undecided_t = tuple(unknown_keys), tuple(undecided)

    if base.allowed:
        deciding: list[StatementRef] = []
        rp_direct = [
            ref for ref, level in rpf.allows if level in (PrincipalLevel.DIRECT, PrincipalLevel.ANYONE)
        ]
        if resource_policy is not None and same_account and rp_direct and not idf.allows:
            deciding += rp_direct
        else:
            deciding += [ref for ref, _ in idf.allows] + [ref for ref, _ in bdf.allows]
            deciding += [ref for ref, _ in rpf.allows]
        return Decision(
            "allow",
            DecisionKind.ALLOW,
            deciding=tuple(deciding),
            unknown=tuple(unknown),
            unknown_keys=keys_t,
            undecided=undecided_t,
        )

    # Denied: say which requirement is not met (for an explicit deny too, since removing the
    # Deny alone would not be enough when another requirement also fails).
    reasons: list[str] = []
    near: list[NearMiss] = []
    what = f"{request.action} on {resource_name or request.resource}"
    rp_levels = {level for _, level in rpf.allows}
    rp_direct_grant = bool(rp_levels & {PrincipalLevel.DIRECT, PrincipalLevel.ANYONE})
    needs_identity = has_identity and (resource_policy is None or not (same_account and rp_direct_grant))
    if needs_identity and not idf.allows:
        reasons.append(f"no identity-based policy of {request.caller.arn} allows {what}")
        near += idf.near
    # A same-account grant to a role (not a user) by name still passes through the boundary.
    if has_identity and boundary is not None and not bdf.allows and (needs_identity or not user_grant):
        reasons.append(f"the permissions boundary {boundary.label} does not allow {what}")
        near += bdf.near
    if resource_policy is None and not same_account and has_identity:
        reasons.append(
            f"{resource_name or request.resource} is in account {resource_account}, not in "
            f"{request.caller.account}, and has no resource-based policy: nothing grants access "
            "across accounts"
        )
    if resource_policy is not None and not rpf.allows:
        if resource_policy.known:
            reasons.append(f"{resource_policy.label} does not allow {request.caller.arn} to {request.action}")
        else:
            reasons.append(f"{resource_policy.label} is not known")
        near += rpf.near
    if base.explicit:
        return Decision(
            "deny",
            DecisionKind.EXPLICIT_DENY,
            deciding=tuple(idf.denies + bdf.denies + rpf.denies),
            reasons=tuple(f"also: {r}" for r in reasons),
            near_misses=tuple(near),
            unknown=tuple(unknown),
            unknown_keys=keys_t,
            undecided=undecided_t,
        )
    if not reasons:
        reasons.append(f"nothing allows {what}")
    return Decision(
        "deny",
        DecisionKind.IMPLICIT_DENY,
        reasons=tuple(reasons),
        near_misses=tuple(near),
        unknown=tuple(unknown),
        unknown_keys=keys_t,
        undecided=undecided_t,
    )
