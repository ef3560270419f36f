"""One declaration per resource kind: what a kind *is*, in one place. Pure.

Each `plan.model.Kind` maps to a `KindSpec` (in `REGISTRY`) that says, in the spirit of Cloud
Custodian's resource metadata:

- who it is for people (`label`), which AWS service holds it and where it lives (`home`);
- how its live state is read: the bulk calls of every plan (`reads`) and the calls made per
  resource when needed (`per_resource`), each with the IAM permissions it takes;
- the fields the diff compares (`fields`) and the data a change carries for its handler only
  (`carried`: never shown as a difference);
- how iamlayer marks what it owns (`ownership`);
- AWS's quotas on it (`quotas`), each checked by `iamlayer validate` (or, where only apply can
  see the count, handled there, which `checked` says);
- its place in the plan's order (`stage`) and its dependencies for apply (`provides`, `uses`);
- the actions its handlers must cover (`actions`: the registry's completeness test holds every
  `@handles(...)` to them);
- its Terraform resource types and whether `iamlayer import` brings it in.

What reads the table: validation (its limits), `operator-policy` (its read permissions), the
apply graph (dependencies), the plan's order and rendering (stage, carried fields), the
importer (Terraform types). A new kind is one declaration here plus its handler functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from iamlayer.plan.model import Action, Change, Kind

__all__ = [
    "ANY",
    "REGISTRY",
    "ApiCall",
    "Deps",
    "Home",
    "Key",
    "KindSpec",
    "Ownership",
    "Quota",
    "limit",
    "other_write_permissions",
    "quota",
    "read_permissions",
    "spec_of",
    "terraform_types",
]

#: A resource as the dependency rules name it: (what, account, name); `"*"` as name: any of that account.
Key = tuple[str, str, str]
ANY = "*"


class Home(StrEnum):
    """Which accounts a kind lives in."""

    EVERY = "every account"
    PEOPLE = "the people account"
    MEMBERS = "the accounts a role lists"
    IDENTITY_CENTER = "the Identity Center account"


@dataclass(frozen=True)
class ApiCall:
    """One AWS read: the operation as IAM names it (`iam:GetCredentialReport`), how often it is
    made (`per`: "account", "page of 1,000", "owned user"...), and the permissions it takes
    (the operation itself unless said otherwise)."""

    operation: str
    per: str = "account"
    permissions: tuple[str, ...] = ()

    @property
    def needs(self) -> tuple[str, ...]:
        return self.permissions or (self.operation,)


@dataclass(frozen=True)
class Ownership:
    """How a resource is marked as this project's: `how` is one of "tag", "marker policy",
    "description marker", "user type marker", "parent" (it is its parent's: an attachment, an
    inline policy, a membership, a key), "account" (an account setting, owned with the account),
    "local file" (a record of iamlayer's own); `detail` says it for people."""

    how: str
    detail: str


@dataclass(frozen=True)
class Quota:
    """An AWS quota on one kind: `limit` is what AWS refuses past (an error at validate time);
    `default` (adjustable quotas only) is the default quota, past which validate warns that AWS
    refuses until the quota is raised (up to `limit`). `counts` says what is counted, `aws_name`
    names it as AWS's documentation does. `checked` is "validate", or says why and where apply
    handles it instead (a count only the live account shows)."""

    name: str
    limit: int
    counts: str
    aws_name: str
    default: int | None = None
    checked: str = "validate"

    @property
    def at_validate(self) -> bool:
        return self.checked == "validate"


Rule = Callable[[Change, "Deps"], list[Key]]


def _none(c: Change, deps: Deps) -> list[Key]:
    return []


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    label: str
    service: str  # "iam", "sso-admin", "identitystore" or "account-access"
    home: Home
    reads: tuple[ApiCall, ...]
    fields: tuple[str, ...]
    ownership: Ownership
    quotas: tuple[Quota, ...]
    stage: int
    actions: frozenset[Action]
    provides: Rule = _none
    uses: Rule = _none
    per_resource: tuple[ApiCall, ...] = ()
    carried: tuple[str, ...] = ()
    #: why `quotas` is empty (AWS documents none that applies to this kind)
    no_quotas_because: str = ""
    #: why it has no dependency rules (nothing orders it against other changes)
    no_dependencies_because: str = ""
    #: a delete that runs among the creates, at this stage (see `Change.stage`)
    early_delete_stage: int | None = None
    #: its deletes of the same resource run before its creates (see the access key)
    delete_makes_room: bool = False
    #: the Terraform resource types that make it (`iamlayer import terraform` reads them)
    #: writes of commands other than apply (whose writes are the handlers' permissions)
    other_writes: tuple[str, ...] = ()
    terraform: tuple[str, ...] = ()
    #: why `terraform` is empty
    no_terraform_because: str = ""
    #: why `iamlayer import` cannot bring it in (empty: it can)
    not_importable_because: str = ""

    @property
    def importable(self) -> bool:
        return not self.not_importable_because

    def quota(self, name: str) -> Quota:
        for q in self.quotas:
            if q.name == name:
                return q
        raise KeyError(f"{self.kind.value} declares no quota {name!r}")


# --- dependency rules ------------------------------------------------------------------------------


def _policy_in(arn: str, account_ids: Mapping[str, str]) -> tuple[str, str] | None:
    """(account name, policy name) of a customer-managed policy ARN of an account of the plan."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("policy/"):
        return None
    account = account_ids.get(parts[4])
    return (account, parts[5].rsplit("/", 1)[-1]) if account else None


def _ref_name(ref: str) -> str:
    """The policy name of a customer-managed reference "/path/name"."""
    return ref.rsplit("/", 1)[-1]


class Deps:
    """What the dependency rules need beyond one change: the plan's account ids, and what each
    permission set of the plan references in other accounts."""

    def __init__(self, changes: Sequence[Change], account_ids: Mapping[str, str]) -> None:
        self.account_ids = account_ids  # account id -> the plan's account name
        # (IC account, set) -> policy names, when a change of the set carries its customer-managed
        # policies.
        self.ps_refs: dict[tuple[str, str], set[str]] = {}
        for c in changes:
            if c.address.kind is not Kind.PERMISSION_SET:
                continue
            for d in (c.before, c.after):
                if d and ("customer_managed_policies" in d or "boundary" in d):
                    refs = self.ps_refs.setdefault((c.address.account, c.address.name), set())
                    refs.update(_ref_name(r) for r in d.get("customer_managed_policies") or ())
                    boundary = d.get("boundary")
                    if boundary and not str(boundary).startswith("arn:"):
                        refs.add(_ref_name(str(boundary)))

    def target(self, c: Change, data: Mapping[str, Any]) -> str:
        """The account (plan name) an Identity Center assignment or provisioning is for."""
        return self.account_ids.get(str(data.get("account_id", "")), c.address.sub.rpartition("@")[2])

    def policies_of(self, ic_account: str, ps: str, target: str) -> list[Key]:
        refs = self.ps_refs.get((ic_account, ps))
        if refs is None:
            return [("policy", target, ANY)]  # unknown here: wait for every policy change there
        return [("policy", target, n) for n in sorted(refs)]

    def local_policies(self, account: str, arns: Iterable[str]) -> list[Key]:
        """The customer-managed policies of `account` among `arns`."""
        hits = [h for h in (_policy_in(x, self.account_ids) for x in arns) if h and h[0] == account]
        return [("policy", *h) for h in hits]


def _data(c: Change) -> dict[str, Any]:
    """What a change's rules read: `before` for a delete, else `after`."""
    return (c.before if c.action is Action.DELETE else c.after) or {}


def _itself(what: str) -> Rule:
    """It is the resource `what` of its name in its account."""
    return lambda c, deps: [(what, c.address.account, c.address.name)]


def _owner(what: str) -> Rule:
    """It uses the `what` its name names (an inline policy its role, a key its user)."""
    return lambda c, deps: [(what, c.address.account, c.address.name)]


def _policy_provides(c: Change, deps: Deps) -> list[Key]:
    a = c.address.account
    return [("policy", a, c.address.name), ("policy", a, ANY)]


def _principal_uses(c: Change, deps: Deps) -> list[Key]:
    # a boundary it is made with; the policies its delete detaches (before the policies go); the
    # OIDC providers its trust names (made before it; a provider's delete waits for the role's)
    data = _data(c)
    arns = [str(data.get("permissions_boundary") or ""), *data.get("attached_policies", ())]
    return deps.local_policies(c.address.account, arns) + [
        ("oidc_provider", c.address.account, host) for host in federated_providers(data.get("trust"))
    ]


def _provider_uses(c: Change, deps: Deps) -> list[Key]:
    # A provider's delete comes before the deletes of the roles that trust it (it "uses" them):
    # if it fails, they stay, and the next plan reads the account's providers again.
    if c.action is not Action.DELETE:
        return []
    return [("role", c.address.account, r) for r in _data(c).get("roles", ())]


def federated_providers(trust: Any) -> list[str]:
    """The hosts of the OIDC providers (`Federated: arn:...:oidc-provider/<host>`) a trust policy names."""
    if not isinstance(trust, Mapping):
        return []
    out: list[str] = []
    for st in trust.get("Statement") or ():
        principal = st.get("Principal") if isinstance(st, Mapping) else None
        fed = principal.get("Federated") if isinstance(principal, Mapping) else None
        for arn in [fed] if isinstance(fed, str) else fed or ():
            if isinstance(arn, str) and ":oidc-provider/" in arn:
                out.append(arn.split(":oidc-provider/", 1)[1])
    return out


def _user_uses(c: Change, deps: Deps) -> list[Key]:
    # a user's delete takes it out of its groups: before those groups go
    if c.action is not Action.DELETE:
        return []
    return [("group", c.address.account, g) for g in _data(c).get("groups", ())]


def _attachment_uses(owner: str) -> Rule:
    def uses(c: Change, deps: Deps) -> list[Key]:
        return [
            (owner, c.address.account, c.address.name),
            *deps.local_policies(c.address.account, [c.address.sub]),
        ]

    return uses


def _membership_uses(c: Change, deps: Deps) -> list[Key]:
    a = c.address.account
    return [("user", a, c.address.name), ("group", a, c.address.sub)]


def _login_uses(c: Change, deps: Deps) -> list[Key]:
    return [("user", c.address.account, c.address.name), ("password_policy", c.address.account, "")]


def _ic_membership_uses(c: Change, deps: Deps) -> list[Key]:
    a = c.address.account
    return [("ic_group", a, c.address.name), ("ic_user", a, c.address.sub)]


def _assignment_provides(c: Change, deps: Deps) -> list[Key]:
    # what AWS provisions in the target account: the permission set's role there
    data = c.after or c.before or {}
    return [("provisioned", c.address.account, f"{data.get('permission_set', '')}@{deps.target(c, data)}")]


def _assignment_uses(c: Change, deps: Deps) -> list[Key]:
    a, data = c.address.account, _data(c)
    kind, _, principal = c.address.name.partition("/")
    ps = str(data.get("permission_set") or c.address.sub.partition("@")[0])
    return [
        (f"ic_{kind}", a, principal),
        ("permission_set", a, ps),
        *deps.policies_of(a, ps, deps.target(c, data)),
    ]


def _entitlement_uses(c: Change, deps: Deps) -> list[Key]:
    # its principal, the application, and the role (made, and trusting the account access
    # manager, before; deleted after): "arn:aws:iam::<id>:role/<path><name>"
    a, data = c.address.account, _data(c)
    kind, _, principal = c.address.name.partition("/")
    role_arn = str(data.get("role_arn", ""))
    account = deps.account_ids.get(role_arn.split(":")[4] if role_arn.count(":") >= 5 else "", "")
    return [
        (f"ic_{kind}", a, principal),
        ("access_application", a, ACCESS_APPLICATION_NAME),
        ("role", account, role_arn.rsplit("/", 1)[-1]),
    ]


#: the address name of the account access manager's application (one per account)
ACCESS_APPLICATION_NAME = "account-access"


def _provision_uses(c: Change, deps: Deps) -> list[Key]:
    a, name = c.address.account, c.address.name
    target = deps.target(c, _data(c))
    return [
        ("permission_set", a, name),
        ("provisioned", a, f"{name}@{target}"),
        *deps.policies_of(a, name, target),
    ]


# --- the declarations ------------------------------------------------------------------------------

C, U, D, ADOPT = Action.CREATE, Action.UPDATE, Action.DELETE, Action.ADOPT

_GAAD = "iam:GetAccountAuthorizationDetails"


def _gaad(detail_list: str) -> ApiCall:
    """GetAccountAuthorizationDetails, paginated: one call per 1,000 entries of the account."""
    return ApiCall(_GAAD, per=f"page of 1,000 entries ({detail_list})")


_REPORT = (
    ApiCall("iam:GenerateCredentialReport", per="account (asked again while AWS makes it)"),
    ApiCall("iam:GetCredentialReport"),
)
_TAG = Ownership("tag", "tag iamlayer:project = <project> (iamlayer:tags names the spec's own tag keys)")
_PARENT = "parent"
_ALIAS_CHARS = "characters of the account alias"


#: the assignment read, in each of its shapes (AssignmentReads' values: iamlayer.state.ic_model):
#: the call made per unit, when every list fits one page; a by-principal read completes with
#: ListAccountAssignments where the diff needs other principals' assignments (none in a no-op plan)
IC_ASSIGNMENT_READS_BY: Mapping[str, ApiCall] = {
    "principal": ApiCall(
        "sso:ListAccountAssignmentsForPrincipal",
        per="owned user or group, or external principal of the spec (pages of 100)",
    ),
    "permission set and account": ApiCall(
        "sso:ListAccountAssignments",
        per="owned permission set and account (and completing a read by principal)",
    ),
}
IC_ASSIGNMENT_READS = tuple(IC_ASSIGNMENT_READS_BY.values())


def _name(limit: int, what: str, aws: str) -> Quota:
    return Quota("name", limit, f"characters of the {what} name", aws)


_PATH = Quota("path", 512, "characters of the path", "Path")
_TAGS = Quota("tags", 50, "tags on one resource, iamlayer's ownership tag included", "Tags per IAM resource")
_DESCRIPTION = Quota("description", 1000, "characters of the description", "Description")
_MANAGED_PER = "managed policies attached to one {}"


def _managed(owner: str, aws: str) -> Quota:
    return Quota("managed_policies", 20, _MANAGED_PER.format(owner), aws, default=10)


_INLINE_NAME = Quota("name", 128, "characters of the inline policy name", "Policy name")

# Identity Center: `iamlayer import` reads it (importer/ic_build.py); Terraform's aws_ssoadmin_*
# and aws_identitystore_* states are not read.
_IC_TF = "the Terraform importer reads IAM resources only; `iamlayer import` reads them from AWS"

REGISTRY: dict[Kind, KindSpec] = {
    s.kind: s
    for s in (
        KindSpec(
            Kind.ACCOUNT_ALIAS,
            label="account alias",
            service="iam",
            home=Home.EVERY,
            reads=(ApiCall("iam:ListAccountAliases"),),
            fields=("alias",),
            ownership=Ownership("account", "an account setting: the account is the project's"),
            quotas=(Quota("length", 63, _ALIAS_CHARS, "Account alias (CreateAccountAlias AccountAlias)"),),
            stage=0,
            actions=frozenset({C, U}),
            no_dependencies_because="an account setting nothing else refers to",
            terraform=("aws_iam_account_alias",),
        ),
        KindSpec(
            Kind.PASSWORD_POLICY,
            label="password policy",
            service="iam",
            home=Home.EVERY,
            reads=(ApiCall("iam:GetAccountPasswordPolicy"),),
            fields=(
                "minimum_length",
                "require",
                "allow_users_to_change",
                "max_age_days",
                "reuse_prevention",
                "hard_expiry",
            ),
            ownership=Ownership("account", "an account setting: the account is the project's"),
            quotas=(
                Quota("minimum_length", 128, "characters a password must have", "MinimumPasswordLength"),
                Quota("max_age_days", 1095, "days a password is valid", "MaxPasswordAge"),
                Quota("reuse_prevention", 24, "previous passwords remembered", "PasswordReusePrevention"),
            ),
            stage=0,
            actions=frozenset({C, U}),
            provides=lambda c, deps: [("password_policy", c.address.account, "")],
            terraform=("aws_iam_account_password_policy",),
        ),
        KindSpec(
            Kind.POLICY,
            label="customer-managed policy",
            service="iam",
            home=Home.EVERY,
            reads=(_gaad("Policies"),),
            per_resource=(ApiCall("iam:ListPolicyTags", per="policy not marked in its description"),),
            fields=("path", "description", "document", "tags"),
            carried=("arn", "versions", "attachments", "detaches_unowned"),
            ownership=Ownership(
                "tag", "tag iamlayer:project = <project>, and [iamlayer:<project>] ending its description"
            ),
            quotas=(
                _name(128, "policy", "Policy name"),
                _PATH,
                _DESCRIPTION,
                Quota(
                    "document",
                    6144,
                    "characters of the document, whitespace not counted",
                    "Managed policy size",
                ),
                Quota(
                    "versions",
                    5,
                    "stored versions of one managed policy",
                    "Versions of a managed policy",
                    checked="apply: an update deletes the oldest non-default version before writing the new one",
                ),
            ),
            stage=1,
            actions=frozenset({C, U, D, ADOPT}),
            provides=_policy_provides,
            terraform=("aws_iam_policy",),
        ),
        KindSpec(
            Kind.ROLE,
            label="role",
            service="iam",
            home=Home.MEMBERS,
            reads=(_gaad("RoleDetailList"), ApiCall("iam:ListRoles", per="page of 1,000 roles")),
            fields=("path", "trust", "max_session_duration", "description", "permissions_boundary", "tags"),
            carried=("attached_policies", "inline_policies", "instance_profiles"),
            ownership=_TAG,
            quotas=(
                _name(64, "role", "Role name"),
                _PATH,
                _DESCRIPTION,
                _TAGS,
                Quota(
                    "inline_policies",
                    10240,
                    "characters of all its inline policies together, whitespace not counted",
                    "Role policy size",
                ),
                _managed("role", "Managed policies attached to an IAM role"),
                Quota(
                    "trust_policy",
                    4096,
                    "characters of the trust policy, whitespace not counted",
                    "Role trust policy length",
                    default=2048,
                ),
            ),
            stage=2,
            actions=frozenset({C, U, D, ADOPT}),
            provides=_itself("role"),
            uses=_principal_uses,
            terraform=("aws_iam_role",),
        ),
        KindSpec(
            Kind.GROUP,
            label="group",
            service="iam",
            home=Home.PEOPLE,
            reads=(_gaad("GroupDetailList"),),
            fields=("path", "marker"),
            carried=("members", "attached_policies", "inline_policies", "removes_unowned"),
            ownership=Ownership(
                "marker policy", "inline policy iamlayer-owner-<project> (groups take no tags)"
            ),
            quotas=(
                _name(128, "group", "Group name"),
                _PATH,
                Quota(
                    "inline_policies",
                    5120,
                    "characters of all its inline policies together (iamlayer's own included), "
                    "whitespace not counted",
                    "Group policy size",
                ),
                _managed("group", "Managed policies attached to an IAM group"),
            ),
            stage=2,
            actions=frozenset({C, U, D, ADOPT}),
            provides=_itself("group"),
            uses=_principal_uses,
            terraform=("aws_iam_group",),
        ),
        KindSpec(
            Kind.ROLE_POLICY_ATTACHMENT,
            label="role policy attachment",
            service="iam",
            home=Home.MEMBERS,
            reads=(_gaad("RoleDetailList.AttachedManagedPolicies"),),
            fields=("policy_arn",),
            ownership=Ownership(_PARENT, "its role's"),
            quotas=(),
            no_quotas_because="counted on its role (roles: managed_policies)",
            stage=3,
            actions=frozenset({C, D}),
            uses=_attachment_uses("role"),
            terraform=(
                "aws_iam_role_policy_attachment",
                "aws_iam_policy_attachment",
                "aws_iam_role_policy_attachments_exclusive",
            ),
        ),
        KindSpec(
            Kind.ROLE_INLINE_POLICY,
            label="role inline policy",
            service="iam",
            home=Home.MEMBERS,
            reads=(_gaad("RoleDetailList.RolePolicyList"),),
            fields=("document",),
            ownership=Ownership(
                _PARENT, "its role's; iamlayer-offboarded is written from the spec's offboarded:"
            ),
            quotas=(_INLINE_NAME,),
            stage=3,
            actions=frozenset({C, U, D}),
            uses=_owner("role"),
            terraform=("aws_iam_role_policy", "aws_iam_role_policies_exclusive"),
        ),
        KindSpec(
            Kind.GROUP_POLICY_ATTACHMENT,
            label="group policy attachment",
            service="iam",
            home=Home.PEOPLE,
            reads=(_gaad("GroupDetailList.AttachedManagedPolicies"),),
            fields=("policy_arn",),
            ownership=Ownership(_PARENT, "its group's"),
            quotas=(),
            no_quotas_because="counted on its group (groups: managed_policies)",
            stage=3,
            actions=frozenset({C, D}),
            uses=_attachment_uses("group"),
            terraform=(
                "aws_iam_group_policy_attachment",
                "aws_iam_policy_attachment",
                "aws_iam_group_policy_attachments_exclusive",
            ),
        ),
        KindSpec(
            Kind.GROUP_INLINE_POLICY,
            label="group inline policy",
            service="iam",
            home=Home.PEOPLE,
            reads=(_gaad("GroupDetailList.GroupPolicyList"),),
            fields=("document",),
            ownership=Ownership(_PARENT, "its group's"),
            quotas=(_INLINE_NAME,),
            stage=3,
            actions=frozenset({C, U, D}),
            uses=_owner("group"),
            terraform=("aws_iam_group_policy", "aws_iam_group_policies_exclusive"),
        ),
        KindSpec(
            Kind.USER,
            label="user",
            service="iam",
            home=Home.PEOPLE,
            reads=(_gaad("UserDetailList"),),
            # `iamlayer offboard` revokes the person's `aws login` sessions before the user goes
            other_writes=("signin:ListSessions", "signin:BatchRevokeSessions"),
            per_resource=(
                # a user the plan deletes: what its delete must remove first
                ApiCall("iam:GetLoginProfile", per="owned user the plan deletes"),
                ApiCall("iam:ListAccessKeys", per="owned user the plan deletes"),
                ApiCall("iam:ListMFADevices", per="owned user the plan deletes"),
                ApiCall("iam:ListUserTags", per="user CreateUser finds already there, at apply"),
            ),
            fields=("path", "tags"),
            carried=(
                "groups",
                "login_profile",
                "access_keys",
                "mfa_devices",
                "attached_policies",
                "inline_policies",
            ),
            ownership=_TAG,
            quotas=(
                _name(64, "user", "User name"),
                _PATH,
                _TAGS,
                Quota("groups", 10, "groups one user is in", "Groups an IAM user can be a member of"),
                Quota(
                    "inline_policies",
                    2048,
                    "characters of all its inline policies together (iamlayer writes one: its grants), "
                    "whitespace not counted",
                    "User policy size",
                ),
            ),
            stage=4,
            actions=frozenset({C, U, D, ADOPT}),
            provides=_itself("user"),
            uses=_user_uses,
            terraform=("aws_iam_user",),
        ),
        KindSpec(
            Kind.USER_INLINE_POLICY,
            label="user inline policy",
            service="iam",
            home=Home.PEOPLE,
            reads=(_gaad("UserDetailList.UserPolicyList"),),
            fields=("document",),
            ownership=Ownership(_PARENT, "its user's; only the one named iamlayer-grants is iamlayer's"),
            quotas=(),
            no_quotas_because="counted on its user (users: inline_policies)",
            stage=5,
            actions=frozenset({C, U, D}),
            uses=_owner("user"),
            no_terraform_because="written from the spec's grants:, which no Terraform resource maps to",
            not_importable_because="grants are temporary: write them in the spec's grants:",
        ),
        KindSpec(
            Kind.GROUP_MEMBERSHIP,
            label="group membership",
            service="iam",
            home=Home.PEOPLE,
            reads=(_gaad("UserDetailList.GroupList"),),
            fields=("group",),
            ownership=Ownership(_PARENT, "its user's, in a group of the project"),
            quotas=(),
            no_quotas_because="counted on its user (users: groups)",
            stage=5,
            actions=frozenset({C, D}),
            uses=_membership_uses,
            terraform=("aws_iam_group_membership", "aws_iam_user_group_membership"),
        ),
        KindSpec(
            Kind.LOGIN_PROFILE,
            label="console password",
            service="iam",
            home=Home.PEOPLE,
            reads=_REPORT,
            per_resource=(
                ApiCall(
                    "iam:GetLoginProfile",
                    per="user whose report row disagrees with the spec (every user with --refresh-credentials)",
                ),
            ),
            fields=("pgp_key", "fingerprint", "password_reset_required", "password_policy"),
            carried=("exists",),
            ownership=Ownership(_PARENT, "its user's"),
            quotas=(),
            no_quotas_because="one per user by construction; its length is the password policy's",
            stage=6,
            actions=frozenset({C, D}),
            uses=_login_uses,
            terraform=("aws_iam_user_login_profile",),
        ),
        KindSpec(
            Kind.ACCESS_KEY,
            label="access key",
            service="iam",
            home=Home.PEOPLE,
            reads=_REPORT,
            per_resource=(
                ApiCall(
                    "iam:ListAccessKeys",
                    per="user whose report row disagrees with the spec (every user with --refresh-credentials)",
                ),
                ApiCall("iam:GetAccessKeyLastUsed", per="key, for `access-key rotate` and `retire`"),
            ),
            # `access-key rotate --deactivate-old` and `retire --deactivate`
            other_writes=("iam:UpdateAccessKey",),
            fields=("pgp_key", "fingerprint"),
            carried=("access_key_id",),
            ownership=Ownership(_PARENT, "its user's, when iamlayer holds its encrypted secret"),
            quotas=(
                Quota(
                    "per_user",
                    2,
                    "access keys of one user",
                    "Access keys assigned to an IAM user",
                    checked="apply: a key nobody holds the secret of is deleted before its replacement is made "
                    "(delete_makes_room); the spec asks for one key at most",
                ),
            ),
            stage=6,
            # AWS allows two keys per user: a key whose secret nobody holds (left by an interrupted
            # apply) must go before its replacement is made, or two such keys block every later
            # create with LimitExceeded.
            early_delete_stage=5,
            delete_makes_room=True,
            actions=frozenset({C, D}),
            provides=_itself("access_key"),
            uses=_owner("user"),
            terraform=("aws_iam_access_key",),
        ),
        KindSpec(
            Kind.STAGED_PASSWORD,
            label="staged password",
            service="iam",
            home=Home.PEOPLE,
            reads=(),
            per_resource=(ApiCall("iam:GetLoginProfile", per="staged password, at apply"),),
            fields=("file",),
            ownership=Ownership(
                "local file", "outputs/<account>/<user>/password.asc.pending, iamlayer's own"
            ),
            quotas=(),
            no_quotas_because="a local file of iamlayer's, not an AWS resource",
            stage=6,
            actions=frozenset({U, D}),
            uses=_owner("user"),
            not_importable_because="a local record of an interrupted apply, not an AWS resource",
            no_terraform_because="not an AWS resource",
        ),
        KindSpec(
            Kind.IC_USER,
            label="Identity Center user",
            service="identitystore",
            home=Home.IDENTITY_CENTER,
            reads=(
                ApiCall("sso:ListInstances"),
                ApiCall("identitystore:ListUsers", per="page of 100 users"),
            ),
            fields=("display_name", "given_name", "family_name", "email", "user_type"),
            carried=("id",),
            ownership=Ownership(
                "user type marker", "user type [iamlayer:<project>] (identity-store users take no tags)"
            ),
            quotas=(
                Quota("name", 128, "characters of the user name", "UserName"),
                Quota("name_part", 1024, "characters of the given, family or display name", "Name"),
            ),
            stage=2,
            actions=frozenset({C, U, D}),
            provides=_itself("ic_user"),
            no_terraform_because=_IC_TF,
        ),
        KindSpec(
            Kind.IC_GROUP,
            label="Identity Center group",
            service="identitystore",
            home=Home.IDENTITY_CENTER,
            reads=(ApiCall("identitystore:ListGroups", per="page of 100 groups"),),
            fields=("description",),
            carried=("id", "members"),
            ownership=Ownership("description marker", "[iamlayer:<project>] ending its description"),
            quotas=(
                Quota("name", 1024, "characters of the display name", "DisplayName"),
                # 1,024 less the ownership marker iamlayer appends
                Quota(
                    "description",
                    970,
                    "characters of the description, before iamlayer's marker",
                    "Description",
                ),
            ),
            stage=2,
            actions=frozenset({C, U, D}),
            provides=_itself("ic_group"),
            no_terraform_because=_IC_TF,
        ),
        KindSpec(
            Kind.PERMISSION_SET,
            label="permission set",
            service="sso-admin",
            home=Home.IDENTITY_CENTER,
            reads=(
                ApiCall("sso:ListPermissionSets", per="page of permission sets"),
                ApiCall("sso:DescribePermissionSet", per="permission set"),
            ),
            per_resource=(
                ApiCall("sso:ListManagedPoliciesInPermissionSet", per="owned permission set"),
                ApiCall("sso:ListCustomerManagedPolicyReferencesInPermissionSet", per="owned permission set"),
                ApiCall("sso:GetInlinePolicyForPermissionSet", per="owned permission set"),
                ApiCall(
                    "sso:GetPermissionsBoundaryForPermissionSet", per="owned permission set with `boundary:`"
                ),
            ),
            fields=(
                "description",
                "session_duration",
                "relay_state",
                "policies",
                "customer_managed_policies",
                "inline_policy",
                "boundary",
                "tags",
            ),
            carried=("arn", "reprovision"),
            ownership=Ownership(
                "description marker",
                "tag iamlayer:project = <project>, and [iamlayer:<project>] ending its description "
                "(ListPermissionSets returns no tags)",
            ),
            quotas=(
                Quota("name", 32, "characters of the name", "Name (CreatePermissionSet)"),
                # 700 less the ownership marker iamlayer appends (at most 45 characters with the project)
                Quota(
                    "description",
                    650,
                    "characters of the description, before iamlayer's marker",
                    "Description",
                ),
                Quota("relay_state", 240, "characters of the relay state", "RelayState"),
                # The inline policy becomes the inline policy of the role Identity Center provisions in
                # each account, so IAM's role inline quota is what provisioning enforces.
                Quota(
                    "inline_policy",
                    10240,
                    "characters of the inline policy, whitespace not counted",
                    "Inline policy size (the provisioned role's)",
                ),
                # AWS- and customer-managed together, as the provisioned role's managed policies.
                Quota(
                    "managed_policies",
                    20,
                    "AWS- and customer-managed policies of one permission set",
                    "Managed policies per permission set",
                    default=10,
                ),
            ),
            stage=2,
            actions=frozenset({C, U, D}),
            provides=_itself("permission_set"),
            no_terraform_because=_IC_TF,
        ),
        KindSpec(
            Kind.IC_MEMBERSHIP,
            label="Identity Center group membership",
            service="identitystore",
            home=Home.IDENTITY_CENTER,
            reads=(ApiCall("identitystore:ListGroupMemberships", per="owned group (pages of 100)"),),
            fields=("user",),
            carried=("group_id", "user_id", "membership_id"),
            ownership=Ownership(_PARENT, "its group's"),
            quotas=(),
            no_quotas_because="AWS documents no write quota on one group's or user's memberships that a spec reaches",
            stage=3,
            actions=frozenset({C, D}),
            uses=_ic_membership_uses,
            no_terraform_because=_IC_TF,
        ),
        KindSpec(
            Kind.IC_ASSIGNMENT,
            label="account assignment",
            service="sso-admin",
            home=Home.IDENTITY_CENTER,
            # one shape or the other (iamlayer.aws.identity_center.choose_assignment_reads)
            reads=IC_ASSIGNMENT_READS,
            fields=("principal_type", "principal", "permission_set", "account_id"),
            carried=("principal_id", "permission_set_arn"),
            ownership=Ownership(_PARENT, "the project's when both its permission set and its principal are"),
            quotas=(),
            no_quotas_because="AWS documents no quota on assignments per permission set or principal that a spec reaches",
            stage=4,
            actions=frozenset({C, D}),
            provides=_assignment_provides,
            uses=_assignment_uses,
            no_terraform_because=_IC_TF,
        ),
        KindSpec(
            Kind.IC_PROVISION,
            label="permission set provisioning",
            service="sso-admin",
            home=Home.IDENTITY_CENTER,
            # which accounts hold an outdated version, and which hold it at all
            reads=(
                ApiCall("sso:ListAccountsForProvisionedPermissionSet", per="owned permission set (twice)"),
            ),
            fields=("permission_set_arn", "account_id"),
            ownership=Ownership(_PARENT, "its permission set's"),
            quotas=(),
            no_quotas_because="an action on a permission set, not a resource",
            stage=5,
            actions=frozenset({U}),
            uses=_provision_uses,
            not_importable_because="an action on a permission set (re-provisioning), not a resource",
            no_terraform_because="not an AWS resource",
        ),
        KindSpec(
            Kind.ACCESS_APPLICATION,
            label="account access manager application",
            service="account-access",
            home=Home.IDENTITY_CENTER,
            # read only when a role of the spec is `entitled` (so not among the bulk reads of every plan)
            reads=(
                ApiCall("account-access:ListApplications", per="plan with an `entitled:` role"),
                ApiCall("account-access:GetApplication", per="application (one per account)"),
            ),
            fields=("instance_arn", "tags"),
            ownership=_TAG,
            quotas=(),
            no_quotas_because="AWS allows one application per account (AlreadyCreatedException), made once",
            stage=2,
            # never deleted: with no role entitled any more it holds nothing of iamlayer's
            actions=frozenset({C}),
            provides=lambda c, deps: [("access_application", c.address.account, ACCESS_APPLICATION_NAME)],
            not_importable_because="made by the first `entitled:` role; nothing to write in the spec",
            no_terraform_because="the Terraform provider has no account access manager resource",
        ),
        KindSpec(
            Kind.ENTITLEMENT,
            label="account access entitlement",
            service="account-access",
            home=Home.IDENTITY_CENTER,
            reads=(
                ApiCall(
                    "account-access:ListEntitlements", per="spec account with roles, when one is entitled"
                ),
            ),
            fields=("role_arn", "principal_type", "principal", "principal_id"),
            carried=("application_arn", "entitlement_id"),
            ownership=Ownership(
                _PARENT, "the project's when its application is and its role is one of the spec's roles"
            ),
            quotas=(),
            no_quotas_because="AWS documents no entitlement quota a spec reaches (ServiceQuotaExceeded is reported)",
            stage=4,
            actions=frozenset({C, D}),
            uses=_entitlement_uses,
            not_importable_because="read back from AWS by the plan; `iamlayer import` does not write `entitled:` yet",
            no_terraform_because="the Terraform provider has no account access manager resource",
        ),
        KindSpec(
            Kind.OIDC_PROVIDER,
            label="OpenID Connect provider",
            service="iam",
            home=Home.EVERY,
            # ListOpenIDConnectProviders gives ARNs only: the audiences and tags come from one
            # GetOpenIDConnectProvider per provider (an account has a handful at most). Read only
            # where it can matter (iamlayer.plan.ci.reads_oidc_providers), so a no-op plan of
            # a layer without `ci:` makes no call more.
            reads=(
                ApiCall(
                    "iam:ListOpenIDConnectProviders",
                    per="account named by ci:, or with an owned role that trusts an OIDC provider",
                ),
            ),
            per_resource=(ApiCall("iam:GetOpenIDConnectProvider", per="OIDC provider of the account"),),
            fields=("url", "client_ids", "tags"),
            carried=("arn", "roles"),
            ownership=_TAG,
            quotas=(
                Quota("url", 255, "characters of the issuer URL", "Url (CreateOpenIDConnectProvider)"),
                Quota(
                    "per_account",
                    100,
                    "OIDC providers in one account",
                    "OpenID Connect providers per account",
                    checked="apply: the live account holds the count; AWS answers LimitExceeded, reported as such",
                ),
            ),
            stage=1,
            actions=frozenset({C, U, D}),
            provides=_itself("oidc_provider"),
            uses=_provider_uses,
            terraform=("aws_iam_openid_connect_provider",),
            not_importable_because="a provider does not say which repository and branches may use it: write `ci:`",
        ),
    )
}


def spec_of(kind: Kind) -> KindSpec:
    return REGISTRY[kind]


def quota(kind: Kind, name: str) -> Quota:
    return REGISTRY[kind].quota(name)


def limit(kind: Kind, name: str) -> int:
    """The most AWS allows of quota `name` of `kind` (what validate refuses past)."""
    return REGISTRY[kind].quota(name).limit


def default_quota(kind: Kind, name: str) -> int:
    """The default of an adjustable quota (what validate warns past), else its limit."""
    q = REGISTRY[kind].quota(name)
    return q.default if q.default is not None else q.limit


#: reads of no kind: who the credentials are, in every account reached
SESSION_READS = ("sts:GetCallerIdentity",)


def read_permissions() -> set[str]:
    """Every IAM action the kinds' reads take, and the session's: the operator policy's reads."""
    kinds = {p for s in REGISTRY.values() for call in (*s.reads, *s.per_resource) for p in call.needs}
    return kinds | set(SESSION_READS)


def other_write_permissions() -> set[str]:
    """The writes of commands other than apply (apply's are its handlers' permissions)."""
    return {p for s in REGISTRY.values() for p in s.other_writes}


def terraform_types() -> tuple[str, ...]:
    """The Terraform resource types the kinds correspond to, in kind order, each once."""
    return tuple(dict.fromkeys(t for s in REGISTRY.values() for t in s.terraform))


def stage(kind: Kind, action: Action) -> int:
    """Place of a change in the plan's order: creates/updates in kind order, deletes after all of
    them in reverse order (except the few that go first: `early_delete_stage`). Apply follows
    dependencies (iamlayer.apply.graph); this order only breaks ties among ready changes."""
    s = REGISTRY[kind]
    if action is not Action.DELETE:
        return s.stage
    if s.early_delete_stage is not None:
        return s.early_delete_stage
    return LAST_STAGE + 1 + (LAST_STAGE - s.stage)


LAST_STAGE = max(s.stage for s in REGISTRY.values())


def _bulk(call: ApiCall) -> bool:
    """A read made once per account (one page of it), whatever the number of resources."""
    return call.per.startswith(("account", "page of"))


def _op(call: ApiCall) -> str:
    return call.operation.partition(":")[2]


def ic_operations() -> frozenset[str]:
    """The operations (as ApiStats counts them) of Identity Center's kinds: sso-admin and
    identitystore reads, per resource ones included."""
    return frozenset(
        _op(c)
        for s in REGISTRY.values()
        if s.service in ("sso-admin", "identitystore")
        for c in (*s.reads, *s.per_resource)
    )


#: Account settings a plan reads only in the accounts whose spec sets them: the diff compares
#: nothing else of theirs (a call each per account: 2 of 5 at 1,000 member accounts).
READ_ONLY_WHEN_SET: frozenset[Kind] = frozenset({Kind.ACCOUNT_ALIAS, Kind.PASSWORD_POLICY})


def settings_not_read(alias: object, password_policy: object) -> frozenset[Kind]:
    """The READ_ONLY_WHEN_SET kinds an account's spec leaves alone (None: not set)."""
    return frozenset(
        k for k, v in ((Kind.ACCOUNT_ALIAS, alias), (Kind.PASSWORD_POLICY, password_policy)) if v is None
    )


def expected_plan_reads(
    accounts: Iterable[str],
    people_account: str,
    ic_account: str | None,
    ic_assignments: tuple[str, int] | None = None,
    not_read: Mapping[str, frozenset[Kind]] | None = None,
) -> dict[str, int]:
    """Operation (as ApiStats counts it, without the service prefix) -> the calls a plan of
    `accounts` makes by the kinds' declarations when each read fits one page: every account's
    bulk reads, once per operation (kinds share GetAccountAuthorizationDetails); and, given
    `ic_assignments` (the shape the Identity Center read chose, an `IC_ASSIGNMENT_READS_BY` key,
    and the units it chose by: principals, or permission set and account pairs), the assignment
    read of that shape, once per unit. Other reads per resource, further pages, completions,
    retries and connecting (AssumeRole, GetCallerIdentity) come on top: `plan --stats` shows
    them as such. `not_read`: by account, kinds whose reads the plan skips there (the account
    settings the spec leaves alone: READ_ONLY_WHEN_SET)."""
    out: dict[str, int] = {}
    if ic_assignments is not None and ic_account is not None:
        shape, units = ic_assignments
        if units:
            out[_op(IC_ASSIGNMENT_READS_BY[shape])] = units
    for account in accounts:
        ops: set[str] = set()
        skipped = (not_read or {}).get(account, frozenset())
        for s in REGISTRY.values():
            here = (
                s.home in (Home.EVERY, Home.MEMBERS)
                or (s.home is Home.PEOPLE and account == people_account)
                or (s.home is Home.IDENTITY_CENTER and account == ic_account)
            )
            if here and s.kind not in skipped:
                ops |= {_op(c) for c in s.reads if _bulk(c)}
        for op in ops:
            out[op] = out.get(op, 0) + 1
    return dict(sorted(out.items()))
