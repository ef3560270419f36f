"""Validation of the spec's `identity_center:` block, as for the rest of the spec.

Every problem is reported at once with file:line and a did-you-mean; names are resolved within
the spec: group members are `identity_center.users`, assignments name users, groups, permission
sets and accounts of the spec, and `customer_managed_policies` (and a `boundary` that is not an
ARN) name policies under the spec's `policies:`, which iamlayer then creates in every account the
permission set is assigned in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from iamlayer.kinds import limit
from iamlayer.plan.model import Kind
from iamlayer.spec import policy_grammar as grammar
from iamlayer.spec.ic_model import (
    DEFAULT_SESSION_DURATION,
    EXTERNAL_SOURCE,
    GROUP,
    IDENTITY_CENTER_SOURCE,
    IDENTITY_SOURCES,
    SESSION_MAX_SECONDS,
    SESSION_MIN_SECONDS,
    USER,
    Assignment,
    IcGroup,
    IcUser,
    IdentityCenter,
    PermissionSet,
    duration_seconds,
    iso_duration,
)
from iamlayer.spec.model import ManagedPolicy, Role
from iamlayer.spec.nodes import Node

if TYPE_CHECKING:
    from iamlayer.spec.validate import SpecBuilder

IC_FIELDS: Final = (
    "account", "region", "start_url", "instance_arn", "identity_store_id", "users", "groups", "permission_sets",
    "assignments", "identity_source",
)  # fmt: skip
IC_USER_FIELDS: Final = ("email", "given_name", "family_name", "display_name", "external")
IC_GROUP_FIELDS: Final = ("description", "members", "external")
#: an external principal is only a name to look up: the identity provider owns everything else
EXTERNAL_FIELDS: Final = ("external",)
PERMISSION_SET_FIELDS: Final = (
    "description", "session_duration", "policies", "customer_managed_policies", "inline_policy",
    "boundary", "relay_state",
)  # fmt: skip
ASSIGNMENT_FIELDS: Final = ("group", "user", "permission_sets", "accounts", "exclude")

# The identity store's own rules (CreateUser, CreateGroup), and sso-admin's (CreatePermissionSet).
# Lengths and counts are the kinds' quotas (iamlayer.kinds).
IC_USER_NAME: Final = re.compile(rf"[^\s\x00-\x1f\x7f]{{1,{limit(Kind.IC_USER, 'name')}}}")
IC_USER_NAME_RULE: Final = f"1-{limit(Kind.IC_USER, 'name')} characters without spaces"
IC_GROUP_NAME: Final = re.compile(rf"[^\x00-\x1f\x7f]{{1,{limit(Kind.IC_GROUP, 'name')}}}")
PERMISSION_SET_NAME: Final = re.compile(rf"[\w+=,.@-]{{1,{limit(Kind.PERMISSION_SET, 'name')}}}", re.ASCII)
PERMISSION_SET_NAME_RULE: Final = f"1-{limit(Kind.PERMISSION_SET, 'name')} letters, digits and + = , . @ _ -"
EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
START_URL: Final = re.compile(r"https://[A-Za-z0-9.-]+(?:/[^\s]*)?")
#: AWS's are d- and 10 hex digits; the emulator's use any lower-case letter
IDENTITY_STORE_ID: Final = re.compile(r"d-[0-9a-z]{10}")
INSTANCE_ARN: Final = re.compile(r"arn:aws(?:-[a-z]+)*:sso:::instance/(?:sso)?ins-[a-zA-Z0-9-.]{16}")
#: sso-admin: a permission set's description is at most 700 characters; iamlayer appends its
#: ownership marker `[iamlayer:<project>]` (at most 45 characters) to it.
MAX_PS_DESCRIPTION: Final = limit(Kind.PERMISSION_SET, "description")
MAX_GROUP_DESCRIPTION: Final = limit(Kind.IC_GROUP, "description")  # 1024 less the marker
MAX_NAME_PART: Final = limit(Kind.IC_USER, "name_part")
MAX_RELAY_STATE: Final = limit(Kind.PERMISSION_SET, "relay_state")
#: per permission set, AWS- and customer-managed together
MAX_MANAGED_POLICIES: Final = limit(Kind.PERMISSION_SET, "managed_policies")
# A permission set's inline policy becomes the inline policy of the IAM role Identity Center
# provisions in each account, so IAM's role inline quota (10,240 characters without whitespace)
# is what provisioning enforces, not sso-admin's larger PutInlinePolicyToPermissionSet bound.
INLINE_POLICY_LIMIT: Final = limit(Kind.PERMISSION_SET, "inline_policy")
DURATION_RULE: Final = "an ISO 8601 duration between PT1H and PT12H in whole minutes, e.g. PT4H or PT1H30M"


def build_identity_center(
    sb: SpecBuilder,
    node: Node,
    accounts: Sequence[str],
    policies: Mapping[str, ManagedPolicy],
    region: str,
    management: str | None,
) -> IdentityCenter | None:
    """The validated block, or None when it is not a mapping (the reason is reported)."""
    r = sb.r
    f = r.fields(node, IC_FIELDS, what="identity_center")
    if f is None:
        return None
    account = None
    if "account" in f:
        account = r.reference(f["account"], accounts, "account", "accounts")
    elif management is not None:
        account = management
    else:
        r.error(
            node,
            "identity_center.account is required when the spec has no management account",
            "the account where the IAM Identity Center instance lives (management or delegated "
            f"administrator), one of: {', '.join(accounts)}",
            path="identity_center.account",
        )
    from iamlayer.spec.validate import REGION, REGION_RULE

    def optional(key: str, pattern: re.Pattern[str], rule: str) -> str | None:
        return r.string(f[key], pattern=pattern, rule=rule) if key in f else None

    ic_region = optional("region", REGION, REGION_RULE) or region
    start_url = optional(
        "start_url", START_URL, "the AWS access portal URL, e.g. https://d-1234567890.awsapps.com/start"
    )
    instance_arn = optional(
        "instance_arn",
        INSTANCE_ARN,
        "an IAM Identity Center instance ARN, arn:aws:sso:::instance/ssoins-<16 characters>",
    )
    identity_store_id = optional(
        "identity_store_id",
        IDENTITY_STORE_ID,
        "the identity store id, d- and 10 characters, e.g. d-9067a1b2c3 (IAM Identity Center console, Settings); "
        "without start_url, people sign in at https://<identity store id>.awsapps.com/start",
    )
    source = IDENTITY_CENTER_SOURCE
    if "identity_source" in f:
        source = r.choice(f["identity_source"], IDENTITY_SOURCES) or IDENTITY_CENTER_SOURCE
    external = source == EXTERNAL_SOURCE
    user_names = _keys(f.get("users"))
    group_names = _keys(f.get("groups"))
    ps_names = _keys(f.get("permission_sets"))
    users = _users(sb, f["users"], external) if "users" in f else {}
    groups = _groups(sb, f["groups"], user_names, users, external) if "groups" in f else {}
    permission_sets = _permission_sets(sb, f["permission_sets"], policies) if "permission_sets" in f else {}
    assignments = (
        _assignments(sb, f["assignments"], accounts, user_names, group_names, ps_names)
        if "assignments" in f
        else ()
    )
    return IdentityCenter(
        account=account or "",
        region=ic_region,
        start_url=start_url,
        instance_arn=instance_arn,
        identity_store_id=identity_store_id,
        users=users,
        groups=groups,
        permission_sets=permission_sets,
        assignments=assignments,
        identity_source=source,
    )


def _is_external(sb: SpecBuilder, node: Node, source_external: bool) -> bool:
    """Whether a user or group entry is provisioned by an external identity provider: every one
    under `identity_source: external`, else those that say `external: true`."""
    flag = node.child("external") if isinstance(node.value, Mapping) and "external" in node.value else None
    value = sb.r.boolean(flag) if flag is not None else None
    if source_external and value is False and flag is not None:
        sb.r.error(
            flag,
            "with identity_source: external every user and group is the identity provider's",
            "the identity store is read-only to iamlayer: remove external: false",
        )
    return source_external or bool(value)


def _keys(node: Node | None) -> list[str]:
    if node is None or not isinstance(node.value, Mapping):
        return []
    return [k for k in node.value if isinstance(k, str)]


def _text(sb: SpecBuilder, f: dict[str, Node], key: str, limit: int, default: str = "") -> str:
    if key not in f:
        return default
    value = sb.r.string(f[key]) or default
    if len(value) > limit:
        sb.r.error(f[key], f"{key} is {len(value)} characters; at most {limit}")
    return value


def _users(sb: SpecBuilder, node: Node, source_external: bool) -> dict[str, IcUser]:
    r = sb.r
    entries = r.named(node, "user")
    sb._unique_ci(entries, "Identity Center user")
    out: dict[str, IcUser] = {}
    for name, unode in entries:
        if not IC_USER_NAME.fullmatch(name):
            r.error(unode, f"invalid Identity Center user name {name!r}", IC_USER_NAME_RULE)
        if _is_external(sb, unode, source_external):
            if unode.value is not None:
                r.fields(
                    unode, EXTERNAL_FIELDS, what=f"external user {name} (its identity provider owns the rest)"
                )
            out[name] = IcUser(name, "", "", "", "", external=True, line=unode.line)
            continue
        f = r.fields(
            unode, IC_USER_FIELDS, required=("email", "given_name", "family_name"), what=f"user {name}"
        )
        if f is None:
            continue
        email = ""
        if "email" in f:
            email = r.string(f["email"], pattern=EMAIL, rule="an email address, e.g. jane@example.com") or ""
        given = _text(sb, f, "given_name", MAX_NAME_PART)
        family = _text(sb, f, "family_name", MAX_NAME_PART)
        display = _text(sb, f, "display_name", MAX_NAME_PART, f"{given} {family}".strip())
        out[name] = IcUser(
            name=name,
            email=email,
            given_name=given,
            family_name=family,
            display_name=display,
            line=unode.line,
        )
    return out


def _groups(
    sb: SpecBuilder, node: Node, users: list[str], declared: Mapping[str, IcUser], source_external: bool
) -> dict[str, IcGroup]:
    r = sb.r
    entries = r.named(node, "group")
    sb._unique_ci(entries, "Identity Center group")
    out: dict[str, IcGroup] = {}
    for name, gnode in entries:
        if not IC_GROUP_NAME.fullmatch(name):
            r.error(
                gnode,
                f"invalid Identity Center group name {name!r}",
                f"1-{limit(Kind.IC_GROUP, 'name')} printable characters",
            )
        if _is_external(sb, gnode, source_external):
            if gnode.value is not None:
                r.fields(
                    gnode,
                    EXTERNAL_FIELDS,
                    what=f"external group {name} (its identity provider owns its members and description)",
                )
            out[name] = IcGroup(name, external=True, line=gnode.line)
            continue
        f = r.fields(gnode, IC_GROUP_FIELDS, what=f"group {name}") if gnode.value is not None else {}
        if f is None:
            continue
        members: list[str] = []
        if "members" in f:
            for item in r.items(f["members"], "user names"):
                member = r.reference(item, users, "Identity Center user", "identity_center.users")
                if member and member in declared and declared[member].external:
                    r.error(
                        item,
                        f"user {member} is external: its groups are its identity provider's",
                        "add it to the group in the identity provider (Okta, Entra ID, Google...)",
                    )
                elif member:
                    members.append(member)
        out[name] = IcGroup(
            name=name,
            description=_text(sb, f, "description", MAX_GROUP_DESCRIPTION),
            members=tuple(dict.fromkeys(members)),
            line=gnode.line,
        )
    return out


def _session_duration(sb: SpecBuilder, node: Node) -> str:
    value = node.value
    seconds = duration_seconds(value) if isinstance(value, str) else None
    if seconds is None or isinstance(value, bool):
        sb.r.error(node, f"invalid session_duration {value!r}", DURATION_RULE)
        return DEFAULT_SESSION_DURATION
    if seconds % 60 or not SESSION_MIN_SECONDS <= seconds <= SESSION_MAX_SECONDS:
        told = f"{seconds / 3600:g} hours" if seconds >= 3600 else f"{seconds} seconds"
        sb.r.error(node, f"session_duration {value} is {told}", DURATION_RULE)
        return DEFAULT_SESSION_DURATION
    return iso_duration(seconds)


def _aws_managed_arns(sb: SpecBuilder, node: Node, spec_policies: list[str]) -> tuple[str, ...]:
    """`policies:` of a permission set: AWS-managed policy ARNs only (what sso-admin attaches)."""
    from iamlayer.spec.validate import POLICY_ARN, POLICY_ARN_RULE

    r = sb.r
    out: list[str] = []
    for item in r.items(node, "AWS-managed policy ARNs"):
        value = r.string(item)
        if value is None:
            continue
        move = (
            "permission sets attach customer-managed policies by name, in every account they are assigned in"
        )
        if value in out:
            r.error(item, f"policy {value!r} is listed twice")
        elif value.startswith("arn:") and not POLICY_ARN.fullmatch(value):
            r.error(item, f"invalid policy ARN {value!r}", POLICY_ARN_RULE)
        elif value.startswith("arn:") and not _aws_managed(value):
            name = value.rsplit("/", 1)[-1]
            r.error(
                item,
                f"{value} is not an AWS-managed policy",
                f"{move}: list {name} under customer_managed_policies",
            )
        elif value.startswith("arn:"):
            out.append(value)
        elif value in spec_policies:
            r.error(
                item,
                f"{value!r} is not an AWS-managed policy",
                f"{move}: list {value} under customer_managed_policies",
            )
        else:
            guess = grammar.did_you_mean(value, spec_policies)
            hint = (
                f"did you mean {guess!r}, under customer_managed_policies?"
                if guess
                else "an AWS-managed policy ARN, e.g. arn:aws:iam::aws:policy/ReadOnlyAccess"
            )
            r.error(item, f"invalid policy {value!r}", hint)
    return tuple(out)


def _aws_managed(arn: str) -> bool:
    return ":iam::aws:policy/" in arn


def _spec_policy_refs(sb: SpecBuilder, node: Node, spec_policies: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for item in sb.r.items(node, "names of policies under policies:"):
        name = sb.r.reference(item, spec_policies, "policy", "policies")
        if name is not None:
            if name in out:
                sb.r.error(item, f"policy {name!r} is listed twice")
            out.append(name)
    return tuple(dict.fromkeys(out))


def _boundary(sb: SpecBuilder, node: Node, spec_policies: list[str]) -> str | None:
    value = node.value
    if value is None or value == "none":
        return None
    text = sb.r.string(node)
    if text is None:
        return None
    if text.startswith("arn:"):
        from iamlayer.spec.validate import POLICY_ARN

        if POLICY_ARN.fullmatch(text) and _aws_managed(text):
            return text
        sb.r.error(
            node,
            f"invalid boundary {text!r}",
            "an AWS-managed policy ARN, the name of a policy under policies: (created in every "
            "account the permission set is assigned in), or none",
        )
        return None
    return sb.r.reference(node, spec_policies, "policy", "policies")


def _permission_sets(
    sb: SpecBuilder, node: Node, policies: Mapping[str, ManagedPolicy]
) -> dict[str, PermissionSet]:
    r = sb.r
    spec_policies = list(policies)
    entries = r.named(node, "permission set")
    sb._unique_ci(entries, "permission set")
    out: dict[str, PermissionSet] = {}
    for name, pnode in entries:
        if not PERMISSION_SET_NAME.fullmatch(name):
            r.error(pnode, f"invalid permission set name {name!r}", PERMISSION_SET_NAME_RULE)
        f = (
            r.fields(pnode, PERMISSION_SET_FIELDS, what=f"permission set {name}")
            if pnode.value is not None
            else {}
        )
        if f is None:
            continue
        managed = _aws_managed_arns(sb, f["policies"], spec_policies) if "policies" in f else ()
        customer = (
            _spec_policy_refs(sb, f["customer_managed_policies"], spec_policies)
            if "customer_managed_policies" in f
            else ()
        )
        if len(managed) + len(customer) > MAX_MANAGED_POLICIES:
            r.error(
                pnode,
                f"permission set {name} has {len(managed) + len(customer)} managed policies; "
                f"IAM Identity Center allows {MAX_MANAGED_POLICIES} (AWS- and customer-managed together)",
            )
        inline = None
        if "inline_policy" in f:
            inline = sb._document(f["inline_policy"])
            if inline is not None and grammar.policy_size(inline) > INLINE_POLICY_LIMIT:
                r.error(
                    f["inline_policy"],
                    f"inline_policy is {grammar.policy_size(inline):,} characters; IAM Identity Center "
                    f"allows {INLINE_POLICY_LIMIT:,}",
                )
        relay = ""
        if "relay_state" in f:
            relay = r.string(f["relay_state"], pattern=re.compile(r"https?://\S+"), rule="a URL") or ""
            if len(relay) > MAX_RELAY_STATE:
                r.error(
                    f["relay_state"], f"relay_state is {len(relay)} characters; at most {MAX_RELAY_STATE}"
                )
        out[name] = PermissionSet(
            name=name,
            description=_text(sb, f, "description", MAX_PS_DESCRIPTION),
            session_duration=(
                _session_duration(sb, f["session_duration"])
                if "session_duration" in f
                else DEFAULT_SESSION_DURATION
            ),
            policies=managed,
            customer_managed_policies=customer,
            inline_policy=inline,
            boundary=_boundary(sb, f["boundary"], spec_policies) if "boundary" in f else None,
            boundary_managed="boundary" in f,
            relay_state=relay,
        )
    return out


def _assignments(
    sb: SpecBuilder,
    node: Node,
    accounts: Sequence[str],
    users: list[str],
    groups: list[str],
    permission_sets: list[str],
) -> tuple[Assignment, ...]:
    r = sb.r
    out: list[Assignment] = []
    # (No square brackets in messages: the terminal renders them as markup.)
    example = (
        "e.g. {group: devops, permission_sets: <list of names>, accounts: <list of account names, or all>}"
    )
    for item in r.items(node, f"assignments ({example})"):
        f = r.fields(item, ASSIGNMENT_FIELDS, required=("permission_sets", "accounts"), what="an assignment")
        if f is None:
            continue
        who = [k for k in ("group", "user") if k in f]
        principal: tuple[str, str] | None = None
        if len(who) != 1:
            r.error(
                item,
                "an assignment names a group or a user"
                if not who
                else "an assignment names one of group: and user:",
                example,
            )
        elif who[0] == "group":
            g = r.reference(f["group"], groups, "Identity Center group", "identity_center.groups")
            principal = (GROUP, g) if g else None
        else:
            u = r.reference(f["user"], users, "Identity Center user", "identity_center.users")
            principal = (USER, u) if u else None
        sets: list[str] = []
        if "permission_sets" in f:
            items = r.items(f["permission_sets"], "permission set names")
            if not items and f["permission_sets"].value is not None:
                r.error(f["permission_sets"], "an assignment needs at least one permission set")
            for ps in items:
                name = r.reference(ps, permission_sets, "permission set", "identity_center.permission_sets")
                if name:
                    sets.append(name)
        targets: tuple[str, ...] = ()
        if "accounts" in f:
            targets, _ = sb.account_list(f, accounts)
        if principal is None:
            continue
        out += [Assignment(principal[0], principal[1], ps, acc, item.line) for ps in sets for acc in targets]
    return tuple(dict.fromkeys(out))


def check_entitlements(
    sb: SpecBuilder, node: Node, roles: dict[str, Role], ic: IdentityCenter | None
) -> dict[str, Role]:
    """`roles.<Role>.entitled`: each item names an Identity Center principal of the spec,
    `group/<name>` or `user/<name>` (the account access manager entitles Identity Center users and
    groups only); the roles with only the items that do."""
    r = sb.r
    out = dict(roles)
    for name, role in roles.items():
        if not role.entitled:
            continue
        entitled = node.child(name).child("entitled")
        items = r.items(entitled, "group/<name> or user/<name>")
        kept: list[str] = []
        for item in items:
            value = r.string(item)
            if value is None:
                continue
            kind, _, principal = value.partition("/")
            if ic is None:
                r.error(
                    item,
                    f"role {name} entitles {value!r}, but the spec has no identity_center:",
                    "the account access manager entitles IAM Identity Center users and groups: declare "
                    "them under identity_center (external: true for an identity provider's)",
                )
            elif kind not in ("group", "user") or not principal:
                r.error(item, f"invalid entitled principal {value!r}", "group/<name> or user/<name>")
            else:
                section = ic.groups if kind == "group" else ic.users
                found = r.reference(
                    Node(principal, item.path, item.line),
                    list(section),
                    f"Identity Center {kind}",
                    f"identity_center.{kind}s",
                )
                if found and value not in kept:
                    kept.append(value)
        out[name] = replace(role, entitled=tuple(kept), entitled_line=entitled.line)
    return out
