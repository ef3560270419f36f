"""What AWS would decide, for the tests: two evaluators that must agree on every request.

The emulator enforces no IAM policy, so whether a call would be allowed on AWS is asked here
instead, of two evaluators: NCC Group's principalmapper, locally (`pmapper_decide`), and iamlayer's
own `iamlayer.access` (`iamlayer_decide`). The tests take them from `EVALUATORS` and hold every
step to both, so a flaw in one cannot pass unnoticed.

What AWS decides that principalmapper does not model, and how it is handled here:
- sts:GetCallerIdentity and sts:GetSessionToken need no permission and cannot be denied (the STS
  API reference says so for both: "No permissions are required ... You cannot use policies to
  control authentication operations"). They are answered `allowed` before any policy is read.
- Cross-account sts:AssumeRole needs both the caller's identity policies and the role's trust
  policy to allow; principalmapper does that when the trust policy is passed as the resource
  policy with the role's account as its owner.
- Policy variables in condition values (the layer's trust policies require
  `sts:RoleSessionName` = `${aws:username}`): principalmapper expands them in Resource elements
  only, so `_with_variables` writes the caller's values into the trust policy's String*
  conditions first, as AWS substitutes them at evaluation ("IAM policy elements: Variables and
  tags": variables in the Condition element of String and ARN operators).
- The MFA context: `mfa=False` means the key aws:MultiFactorAuthPresent is absent, as it is for
  requests signed with long-term access keys; `mfa=True` sets it to "true" with
  aws:MultiFactorAuthAge (seconds since the MFA code was checked).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from iamlayer.access.context import Caller, Credential, Signing, UserRequestFacts, user_context
from iamlayer.access.evaluate import PolicySource, evaluate
from iamlayer.access.evaluate import Request as AccessRequest
from iamlayer.access.policy import compile_policy
from pmapper_compat import (
    CaseInsensitiveDict,
    Group,
    Node,
    Policy,
    _infer_condition_keys,
    local_check_authorization_full,
    lps,
)

Doc = Mapping[str, Any]

#: actions AWS always allows (authentication operations; no policy can deny them)
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity", "sts:GetSessionToken"})


@dataclass(frozen=True)
class Request:
    """One AWS API call as policy evaluation sees it."""

    principal: str  # the caller's ARN: an IAM user, or an assumed-role session
    action: str  # service:Action
    resource: str  # the resource ARN, or "*"
    mfa: bool  # aws:MultiFactorAuthPresent is "true" (else the key is absent)
    mfa_age: int | None = None  # aws:MultiFactorAuthAge in seconds, when mfa
    session_name: str | None = None  # sts:AssumeRole: the RoleSessionName asked for

    def context(self) -> dict[str, str]:
        """The condition keys AWS sets for this request: the resource's account (aws:ResourceAccount,
        which the layer's group assume policies test), sts:RoleSessionName of an AssumeRole call
        (which the layer's trust policies test), and MFA when signed with it."""
        parts = self.resource.split(":", 5)
        out = {"aws:ResourceAccount": parts[4]} if len(parts) == 6 and parts[4].isdigit() else {}
        if self.session_name is not None:
            out["sts:RoleSessionName"] = self.session_name
        if self.mfa:
            out |= {"aws:MultiFactorAuthPresent": "true", "aws:MultiFactorAuthAge": str(self.mfa_age or 0)}
        return out


@dataclass(frozen=True)
class Identity:
    """An IAM user and the policies that apply to it: its own and its groups'."""

    arn: str
    policies: tuple[tuple[str, Doc], ...] = ()  # (name, document)
    groups: tuple[tuple[str, tuple[tuple[str, Doc], ...]], ...] = ()  # (group ARN, its policies)


@dataclass
class World:
    """Everything evaluation may read: identities by ARN, role trust policies by role ARN."""

    identities: dict[str, Identity] = field(default_factory=dict)
    trust: dict[str, Doc] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    why: str


def _account(arn: str) -> str:
    return arn.split(":")[4]


def _node(ident: Identity) -> Node:
    def pols(owner: str, items: Sequence[tuple[str, Doc]]) -> list[Policy]:
        return [Policy(owner, name, dict(doc)) for name, doc in items]

    return Node(
        arn=ident.arn,
        id_value="AIDA" + ident.arn.rsplit("/", 1)[-1].upper().replace(".", "X"),
        attached_policies=pols(ident.arn, ident.policies),
        group_memberships=[Group(arn, pols(arn, items)) for arn, items in ident.groups],
        trust_policy=None,
        instance_profile=None,
        num_access_keys=1,
        active_password=False,
        is_admin=False,
        permissions_boundary=None,
        has_mfa=False,
        tags={},
    )


def _deciding(node: Node, req: Request, trust: Doc | None) -> str:
    """Which policy statements matched, for the message (principalmapper says only yes or no)."""
    ctx = CaseInsensitiveDict(req.context())
    ctx.update(_infer_condition_keys(node, ctx))
    found: dict[str, list[str]] = {"Deny": [], "Allow": []}
    policies = [*node.attached_policies, *(p for g in node.group_memberships for p in g.attached_policies)]
    for pol in policies:
        for st in lps._listify_dictionary(pol.policy_doc["Statement"]):
            if lps.policy_has_matching_statement(
                {"Statement": [st]}, st["Effect"], req.action, req.resource, ctx
            ):
                found[st["Effect"]].append(f"{pol.arn.split(':')[-1]}/{pol.name}:{st.get('Sid', '?')}")
    parts = []
    if found["Deny"]:
        parts.append("explicit deny by " + ", ".join(found["Deny"]))
    parts.append("allowed by " + ", ".join(found["Allow"]) if found["Allow"] else "no identity Allow")
    if trust is not None:
        rp = lps.resource_policy_authorization(
            node, _account(req.resource), dict(trust), req.action, req.resource, ctx
        )
        parts.append(f"trust policy: {rp.name}")
    return "; ".join(parts)


def pmapper_decide(req: Request, world: World) -> Decision:
    """Would AWS allow `req`? principalmapper's local simulation over `world`'s policies."""
    if req.action in ALWAYS_ALLOWED:
        return Decision(True, f"{req.action} needs no permission")
    ident = world.identities.get(req.principal)
    if ident is None:
        return Decision(False, f"no policies known for {req.principal}")
    node = _node(ident)
    trust = world.trust.get(req.resource) if req.action == "sts:AssumeRole" else None
    if req.action == "sts:AssumeRole" and trust is None:
        return Decision(False, f"role {req.resource} does not exist")
    allowed = local_check_authorization_full(
        node,
        req.action,
        req.resource,
        req.context(),
        _with_variables(trust, req) if trust is not None else None,
        _account(req.resource) if trust is not None else None,
    )
    return Decision(bool(allowed), _deciding(node, req, trust))


def _with_variables(doc: Doc, req: Request) -> dict[str, Any]:
    """`doc` with `${aws:username}` in the values of its String* and Arn* conditions replaced by the
    caller's user name (a role session has none: the variable is left, and matches nothing real)."""
    resource = req.principal.split(":", 5)[-1]
    name = resource.rpartition("/")[2] if resource.startswith("user/") else None

    def value(v: Any) -> Any:
        if isinstance(v, list):
            return [value(x) for x in v]
        if isinstance(v, str) and name is not None:
            return v.replace("${aws:username}", name)
        return v

    out = json.loads(json.dumps(doc))
    statements = out["Statement"] if isinstance(out["Statement"], list) else [out["Statement"]]
    for st in statements:
        for op, block in (st.get("Condition") or {}).items():
            if op.split(":")[-1].startswith(("String", "Arn")):
                st["Condition"][op] = {k: value(v) for k, v in block.items()}
    return dict(out)


def iamlayer_decide(req: Request, world: World) -> Decision:
    """Would AWS allow `req`? iamlayer's own evaluator (iamlayer.access) over `world`'s policies."""
    if req.action in ALWAYS_ALLOWED:
        return Decision(True, f"{req.action} needs no permission")
    ident = world.identities.get(req.principal)
    if ident is None:
        return Decision(False, f"no policies known for {req.principal}")
    account, resource = _account(ident.arn), ident.arn.split(":", 5)[-1]
    path, _, name = resource[len("user") :].rpartition("/")
    sources = [
        PolicySource(f"{owner.split(':')[-1]} / {pol}", None, compile_policy(dict(doc)))
        for owner, items in ((ident.arn, ident.policies), *ident.groups)
        for pol, doc in items
    ]
    signing = Signing.with_mfa(req.mfa_age or 0) if req.mfa else Signing(Credential.ACCESS_KEY)
    resource_keys = {
        k: v for k, v in req.context().items() if k in ("aws:ResourceAccount", "sts:RoleSessionName")
    }
    context = user_context(
        UserRequestFacts(account, name, path + "/"), signing, now=datetime.now(UTC), extra=resource_keys
    )
    trust = world.trust.get(req.resource) if req.action == "sts:AssumeRole" else None
    if req.action == "sts:AssumeRole" and trust is None:
        return Decision(False, f"role {req.resource} does not exist")
    decision = evaluate(
        AccessRequest(Caller.user(account, name, path + "/"), req.action, req.resource, context),
        sources,
        resource_policy=(
            PolicySource(f"trust policy of {req.resource}", None, compile_policy(dict(trust)))
            if trust is not None
            else None
        ),
        resource_account=_account(req.resource) if trust is not None else None,
    )
    return Decision(decision.allowed, "; ".join(decision.explain()))


Evaluator = Callable[[Request, World], Decision]

#: every evaluator the access tests hold the layer's policies against: the independent one and
#: iamlayer's own, which must agree on every step
EVALUATORS: dict[str, Evaluator] = {"principalmapper": pmapper_decide, "iamlayer": iamlayer_decide}
