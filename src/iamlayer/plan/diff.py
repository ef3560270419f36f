"""diff(desired, live) -> changes. Pure: no I/O, so it is tested from tables.

Rules that shape the result:
- Only owned resources are changed or deleted. A resource the spec names that exists but is not
  owned is a collision: reported as an error with how to adopt it, never modified. With `adopt:
  true` in the spec, one that no iamlayer project owns is adopted instead: an ADOPT change adds
  the ownership marker, and the resource is then compared like an owned one.
- Create-time values are never diffed: a login profile's password (people change it), a policy's
  description, a user's password_reset_required.
- Tags: the spec's tags are added or corrected; a tag iamlayer set that has left the spec (the
  live `iamlayer:tags` tag names those it set) is removed, shown with the value None; tags others
  added (the console tags access keys, for example) are left alone.
- A deleted user, group or role is one change that lists, in `before`, everything that must go
  first; its handler removes those in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypeVar

from iamlayer.kinds import federated_providers
from iamlayer.plan.model import Action, Address, Change, Kind
from iamlayer.secrets.names import PASSWORD_FILE, PENDING_SUFFIX
from iamlayer.spec.model import PasswordPolicy
from iamlayer.state.ic_model import cm_ref
from iamlayer.state.model import (
    GRANTS_POLICY_NAME,
    MANAGED_TAGS_TAG,
    OWNER_TAG,
    AccountState,
    GroupState,
    Resource,
    RoleState,
    UserState,
    adoptable,
    group_marker_name,
    managed_tag_keys,
    owner_of,
)
from iamlayer.state.records import KeyCreation

Tagged = TypeVar("Tagged", UserState, RoleState)


def _not_ours_note(what: str, principals: list[str]) -> str:
    """The note on a delete that also changes principals iamlayer does not own (IAM refuses to
    delete a policy still attached, or a group with members, so they are detached first)."""
    if not principals:
        return ""
    return f"{what} {len(principals)} principal(s) iamlayer does not own: {', '.join(principals)}"


def tag_changes(
    want: Mapping[str, str], have: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str | None]]:
    """The tags of a user or role to change, as (before, after); None in `after` removes the tag.

    Set: the spec's tags (with the `iamlayer:tags` list of their keys) that AWS lacks or holds
    another value for. Removed: the tags the live `iamlayer:tags` names that have left the spec.
    Left alone: tags others added, and the ownership tag (the claim's, or adoption's, business).
    """
    after: dict[str, str | None] = {k: v for k, v in want.items() if have.get(k) != v and k != OWNER_TAG}
    after |= {k: None for k in managed_tag_keys(have) if k in have and k not in want and k != OWNER_TAG}
    return {k: have[k] for k in sorted(after) if k in have}, dict(sorted(after.items()))


@dataclass(frozen=True)
class SecretIntent:
    """What a login profile or access key create needs: who to encrypt to and the password rules."""

    pgp_key: str  # absolute path of the key file
    fingerprint: str
    password_reset_required: bool = True


@dataclass
class DiffResult:
    changes: list[Change] = field(default_factory=list)
    collisions: list[str] = field(default_factory=list)  # errors: unowned resources named by the spec
    notices: list[str] = field(default_factory=list)


def password_policy_json(p: PasswordPolicy | None) -> dict[str, Any] | None:
    if p is None:
        return None
    d = asdict(p)
    d["require"] = sorted(p.require)
    return d


#: said with every collision with a resource no iamlayer project owns
ADOPT_ALL_HINT = "or, to adopt every such resource at the next apply, set adopt: true in the spec"


def adopt_hint(kind: str, name: str, project: str, owner: str | None = None) -> str:
    """What to do about a resource the spec names that exists but is not this project's."""
    if owner is not None and owner != project:
        return (
            f"{kind} {name} exists and belongs to iamlayer project {owner!r}, not {project!r}; iamlayer never "
            "takes over another project's resources: rename it in the spec, or remove it from that project first"
        )
    return f"{_adopt_by_hand(kind, name, project)}; {ADOPT_ALL_HINT}"


def _adopt_by_hand(kind: str, name: str, project: str) -> str:
    if kind == "group":
        return (
            f"group {name} exists but was not created by iamlayer project {project!r}. To adopt it, add the "
            f"ownership marker: aws iam put-group-policy --group-name {name} --policy-name "
            f"{group_marker_name(project)} --policy-document "
            '\'{"Version":"2012-10-17","Statement":[{"Sid":"IamlayerOwnershipMarker",'
            '"Effect":"Deny","NotAction":"*","Resource":"*"}]}\'; or rename it in the spec'
        )
    if kind == "policy":
        return (
            f"policy {name} exists but was not created by iamlayer project {project!r}. To adopt it: aws iam "
            f"tag-policy --policy-arn ARN --tags Key={OWNER_TAG},Value={project}; or rename it in the spec"
        )
    return (
        f"{kind} {name} exists but is not owned by iamlayer project {project!r}. To adopt it: "
        f"aws iam tag-{kind} --{kind}-name {name} --tags Key={OWNER_TAG},Value={project}; or rename it in the spec"
    )


class ChangeCollector:
    """What the IAM and the Identity Center differs share: the changes of one account, collected."""

    account: str
    out: DiffResult

    def add(
        self,
        kind: Kind,
        name: str,
        action: Action,
        before: Any = None,
        after: Any = None,
        sub: str = "",
        note: str = "",
    ) -> None:
        self.out.changes.append(Change(Address(self.account, kind, name, sub), action, before, after, note))


class _Differ(ChangeCollector):
    def __init__(
        self,
        account: str,
        project: str,
        desired: AccountState,
        live: AccountState,
        staged: Mapping[str, bool],
        adopt: bool = False,
        needed_policies: Mapping[str, str] | None = None,
    ) -> None:
        self.account = account
        self.project = project
        self.desired = desired
        self.live = live
        self.staged = staged
        self.adopt = adopt
        self.needed_policies = needed_policies or {}
        self.out = DiffResult()

    def claim(self, kind: Kind, name: str, have: Resource, marker: dict[str, Any]) -> bool:
        """Whether `have`, which the spec names, is this project's to manage: owned already, or
        adopted now (an ADOPT change that adds `marker`). Otherwise it is a collision."""
        if have.owned_by(self.project):
            return True
        if adoptable(have, self.project, self.adopt):
            self.add(
                kind,
                name,
                Action.ADOPT,
                {"owner": None},
                marker,
                note="exists without an ownership marker; adopted: only the marker is added",
            )
            return True
        self.out.collisions.append(adopt_hint(kind.value, name, self.project, owner_of(have)))
        return False

    def claim_tagged(
        self, kind: Kind, name: str, have: Tagged, want_tags: Mapping[str, str]
    ) -> Tagged | None:
        """`claim` for a user or role: `have` as it is once claimed, or None on a collision.

        Adopting one tags it with the ownership tag and the `iamlayer:tags` list of the spec's tag
        keys (the spec's tags become iamlayer's with it), so nothing else is planned for the list.
        """
        marker = {OWNER_TAG: self.project}
        if MANAGED_TAGS_TAG in want_tags:
            marker[MANAGED_TAGS_TAG] = want_tags[MANAGED_TAGS_TAG]
        adopted = not have.owned_by(self.project)
        if not self.claim(kind, name, have, {"tags": marker}):
            return None
        return replace(have, tags={**have.tags, **marker}) if adopted else have

    # -- account settings -------------------------------------------------------------------
    def account_settings(self) -> None:
        d, lv = self.desired, self.live
        if d.alias is not None and d.alias != lv.alias:
            self.add(
                Kind.ACCOUNT_ALIAS,
                d.alias,
                Action.CREATE if lv.alias is None else Action.UPDATE,
                {"alias": lv.alias} if lv.alias else None,
                {"alias": d.alias},
            )
        if d.password_policy is not None and d.password_policy != lv.password_policy:
            self.add(
                Kind.PASSWORD_POLICY,
                "account",
                Action.CREATE if lv.password_policy is None else Action.UPDATE,
                password_policy_json(lv.password_policy),
                password_policy_json(d.password_policy),
            )

    # -- pairs: attachments and inline policies -----------------------------------------------
    def attachments(self, kind: Kind, name: str, want: frozenset[str], have: frozenset[str]) -> None:
        for arn in sorted(want - have):
            self.add(kind, name, Action.CREATE, None, {"policy_arn": arn}, sub=arn)
        for arn in sorted(have - want):
            self.add(kind, name, Action.DELETE, {"policy_arn": arn}, None, sub=arn)

    def inline(self, kind: Kind, name: str, want: Mapping[str, Any], have: Mapping[str, Any]) -> None:
        for pol in sorted(want):
            if pol not in have:
                self.add(kind, name, Action.CREATE, None, {"document": want[pol]}, sub=pol)
            elif want[pol] != have[pol]:
                self.add(kind, name, Action.UPDATE, {"document": have[pol]}, {"document": want[pol]}, sub=pol)
        for pol in sorted(set(have) - set(want)):
            self.add(kind, name, Action.DELETE, {"document": have[pol]}, None, sub=pol)

    # -- policies ----------------------------------------------------------------------------
    def policies(self) -> None:
        for name, want in self.desired.policies.items():
            have = self.live.policies.get(name)
            if have is None:
                self.add(
                    Kind.POLICY,
                    name,
                    Action.CREATE,
                    None,
                    {
                        "path": want.path,
                        "description": want.description,
                        "document": want.document,
                        "tags": {OWNER_TAG: self.project},
                    },
                )
            elif self.claim(Kind.POLICY, name, have, {"arn": have.arn, "tags": {OWNER_TAG: self.project}}):
                if want.document != have.document:
                    self.add(
                        Kind.POLICY,
                        name,
                        Action.UPDATE,
                        {"document": have.document},
                        {"document": want.document, "arn": have.arn, "versions": list(have.versions)},
                    )
                if want.path != have.path:
                    self.out.notices.append(
                        f"policy {name}: path {have.path} -> {want.path} needs a new policy (IAM cannot move "
                        "one); rename it in the spec to replace it"
                    )
        for name, have in self.live.policies.items():
            if name not in self.desired.policies and have.owned_by(self.project):
                why = self.needed_policies.get(cm_ref(have.path, name))
                if why is not None:
                    # IAM Identity Center attaches it by path and name to the role of every
                    # account the permission set is provisioned to: deleting it breaks them.
                    self.out.notices.append(f"policy {name} is not deleted: {why}")
                    continue
                unowned = self._unowned_principals_of(have.arn)
                self.add(
                    Kind.POLICY,
                    name,
                    Action.DELETE,
                    {
                        "arn": have.arn,
                        "document": have.document,
                        "attachments": have.attachments,
                        "detaches_unowned": unowned,
                    },
                    None,
                    note=_not_ours_note("detaches it from", unowned),
                )

    def _unowned_principals_of(self, arn: str) -> list[str]:
        """The users, groups and roles not owned by this project that have policy `arn` attached
        (from the bulk read): deleting the policy detaches it from them, and the plan says so."""
        principals: list[tuple[str, Mapping[str, GroupState | RoleState | UserState]]] = [
            ("group", self.live.groups),
            ("role", self.live.roles),
            ("user", self.live.users),
        ]
        return [
            f"{kind} {name}"
            for kind, resources in principals
            for name, r in sorted(resources.items())
            if arn in r.attached and not r.owned_by(self.project)
        ]

    # -- roles -------------------------------------------------------------------------------
    def _role_fields(self, r: RoleState) -> dict[str, Any]:
        return {
            "path": r.path,
            "trust": r.trust,
            "max_session_duration": r.max_session_duration,
            "description": r.description,
            "permissions_boundary": r.permissions_boundary,
            "tags": dict(sorted(r.tags.items())),
        }

    def roles(self) -> None:
        for name, want in self.desired.roles.items():
            have = self.live.roles.get(name)
            if have is None:
                self.add(Kind.ROLE, name, Action.CREATE, None, self._role_fields(want))
                self.attachments(Kind.ROLE_POLICY_ATTACHMENT, name, want.attached, frozenset())
                self.inline(Kind.ROLE_INLINE_POLICY, name, want.inline, {})
                continue
            claimed = self.claim_tagged(Kind.ROLE, name, have, want.tags)
            if claimed is None:
                continue
            have = claimed
            w, h = self._role_fields(want), self._role_fields(have)
            h["tags"], w["tags"] = tag_changes(want.tags, have.tags)
            changed = {k for k in w if w[k] != h[k] and k != "path"}
            if changed & {"max_session_duration", "description"}:
                # One UpdateRole call sets both; send both, so neither is reset (the emulator clears
                # a description left out of the call).
                changed |= {"max_session_duration", "description"}
            if changed:
                self.add(
                    Kind.ROLE,
                    name,
                    Action.UPDATE,
                    {k: h[k] for k in sorted(changed)},
                    {k: w[k] for k in sorted(changed)},
                )
            if want.path != have.path:
                self.out.notices.append(
                    f"role {name}: path {have.path} -> {want.path} needs a new role "
                    "(IAM cannot move one); rename it to replace it"
                )
            self.attachments(Kind.ROLE_POLICY_ATTACHMENT, name, want.attached, have.attached)
            self.inline(Kind.ROLE_INLINE_POLICY, name, want.inline, have.inline)
        for name, have in self.live.roles.items():
            if name not in self.desired.roles and have.owned_by(self.project):
                self.add(
                    Kind.ROLE,
                    name,
                    Action.DELETE,
                    {
                        "attached_policies": sorted(have.attached),
                        "inline_policies": sorted(have.inline),
                        "instance_profiles": list(have.instance_profiles),
                    },
                    None,
                )

    # -- OIDC providers ----------------------------------------------------------------------
    def oidc_providers(self) -> None:
        """The providers of `ci:`. One that exists without any project's tag (an account often has
        GitHub's already) is used as it is, never changed: a notice says when it lacks the audience."""
        for host, want in self.desired.oidc_providers.items():
            have = self.live.oidc_providers.get(host)
            fields = {"url": f"https://{host}", "client_ids": list(want.client_ids), "tags": want.tags}
            if have is None:
                self.add(Kind.OIDC_PROVIDER, host, Action.CREATE, None, fields)
                continue
            owner = have.tags.get(OWNER_TAG)
            if owner is not None and owner != self.project:
                self.out.collisions.append(adopt_hint("OIDC provider", host, self.project, owner))
            elif owner is None:
                missing = sorted(set(want.client_ids) - set(have.client_ids))
                if missing:
                    self.out.notices.append(
                        f"OIDC provider {host} is not iamlayer's and lacks the audience {', '.join(missing)}: "
                        f"add it (aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn "
                        f"{have.arn} --client-id {missing[0]}), or CI cannot assume its roles"
                    )
            elif set(want.client_ids) != set(have.client_ids):
                self.add(
                    Kind.OIDC_PROVIDER,
                    host,
                    Action.UPDATE,
                    {"client_ids": list(have.client_ids)},
                    {"client_ids": list(want.client_ids), "arn": have.arn},
                )
        for host, have in self.live.oidc_providers.items():
            if host not in self.desired.oidc_providers and have.owned_by(self.project):
                # the roles of this project that trust it: deleted after it, so that a provider
                # whose delete failed still has them, and the next plan reads it again
                roles = sorted(
                    n
                    for n, r in self.live.roles.items()
                    if r.owned_by(self.project) and host in federated_providers(r.trust)
                )
                self.add(
                    Kind.OIDC_PROVIDER,
                    host,
                    Action.DELETE,
                    {
                        "url": f"https://{host}",
                        "client_ids": list(have.client_ids),
                        "arn": have.arn,
                        "roles": roles,
                    },
                    None,
                )

    # -- groups ------------------------------------------------------------------------------
    def groups(self, adopt: frozenset[str]) -> None:
        for name, want in self.desired.groups.items():
            have = self.live.groups.get(name)
            if have is None:
                self.add(
                    Kind.GROUP,
                    name,
                    Action.CREATE,
                    None,
                    {"path": want.path, "marker": group_marker_name(self.project)},
                )
                self.attachments(Kind.GROUP_POLICY_ATTACHMENT, name, want.attached, frozenset())
                self.inline(Kind.GROUP_INLINE_POLICY, name, want.inline, {})
                continue
            if not have.owned_by(self.project) and name not in adopt:
                if not self.claim(Kind.GROUP, name, have, {"marker": group_marker_name(self.project)}):
                    continue
                if want.path != have.path:
                    self.add(Kind.GROUP, name, Action.UPDATE, {"path": have.path}, {"path": want.path})
            elif not have.owned_by(self.project):
                # Created by an interrupted apply of ours (journal), before its marker was written.
                self.add(
                    Kind.GROUP,
                    name,
                    Action.UPDATE,
                    {"path": have.path, "marker": None},
                    {"path": want.path, "marker": group_marker_name(self.project)},
                    note="finishing a group creation that an interrupted apply left unmarked",
                )
            elif want.path != have.path:
                self.add(Kind.GROUP, name, Action.UPDATE, {"path": have.path}, {"path": want.path})
            self.attachments(Kind.GROUP_POLICY_ATTACHMENT, name, want.attached, have.attached)
            self.inline(Kind.GROUP_INLINE_POLICY, name, want.inline, have.inline)
        for name, have in self.live.groups.items():
            if name not in self.desired.groups and have.owned_by(self.project):
                unowned = [
                    f"user {m}"
                    for m in sorted(have.members)
                    if m not in self.live.users or not self.live.users[m].owned_by(self.project)
                ]
                self.add(
                    Kind.GROUP,
                    name,
                    Action.DELETE,
                    {
                        "members": sorted(have.members),
                        "attached_policies": sorted(have.attached),
                        "inline_policies": sorted(have.inline),
                        "marker": group_marker_name(self.project),
                        "removes_unowned": unowned,
                    },
                    None,
                    note=_not_ours_note("removes from it", unowned),
                )

    # -- users -------------------------------------------------------------------------------
    def users(
        self,
        intents: Mapping[str, SecretIntent],
        deleted: Mapping[str, dict[str, Any]],
        issued: Mapping[str, frozenset[str]],
        keys_in_flight: Mapping[str, KeyCreation],
        stale_keys: Mapping[str, frozenset[str]],
    ) -> None:
        managed_groups = set(self.desired.groups)
        for name, want in self.desired.users.items():
            have = self.live.users.get(name)
            if have is not None:
                claimed = self.claim_tagged(Kind.USER, name, have, want.tags)
                if claimed is None:
                    continue
                have = claimed
            gone_note = "deleted in AWS already (by an interrupted apply); its ciphertext goes too"
            if have is None:
                gone_note = "deleted in AWS with its user (outside iamlayer); its ciphertext goes too"
                self.add(
                    Kind.USER,
                    name,
                    Action.CREATE,
                    None,
                    {"path": want.path, "tags": dict(sorted(want.tags.items()))},
                )
                have = UserState(name=name, login_profile=False, access_keys=())
            else:
                self._user_update(want, have)
            for g in sorted(want.groups - have.groups):
                self.add(Kind.GROUP_MEMBERSHIP, name, Action.CREATE, None, {"group": g}, sub=g)
            for g in sorted((have.groups - want.groups) & managed_groups):
                self.add(Kind.GROUP_MEMBERSHIP, name, Action.DELETE, {"group": g}, None, sub=g)
            ours = {p: d for p, d in have.inline.items() if p == GRANTS_POLICY_NAME}
            self.inline(Kind.USER_INLINE_POLICY, name, want.inline, ours)
            self._credentials(
                want, have, intents.get(name), issued.get(name, frozenset()), keys_in_flight.get(name)
            )
            for key_id in sorted(stale_keys.get(name, ())):
                self.add(
                    Kind.ACCESS_KEY,
                    name,
                    Action.DELETE,
                    {"access_key_id": key_id},
                    None,
                    sub=key_id,
                    note=gone_note,
                )
        for name, have in self.live.users.items():
            if name not in self.desired.users and have.owned_by(self.project):
                before = deleted.get(name) or {"groups": sorted(have.groups)}
                self.add(Kind.USER, name, Action.DELETE, before, None)

    def staged_passwords(self, staged: Mapping[str, bool]) -> None:
        """Passwords an interrupted apply staged; `staged` maps the user to whether a committed
        password file exists beside the staged one. Settled by apply, checked with AWS again there."""
        staged_file = {"file": PASSWORD_FILE + PENDING_SUFFIX}
        for name, final_exists in sorted(staged.items()):
            have, want = self.live.users.get(name), self.desired.users.get(name)
            if have is not None and not have.owned_by(self.project):
                continue  # never ours to settle
            if have is not None and want is None:
                continue  # the user is deleted, and every ciphertext of theirs with them
            if have is not None and have.login_profile:
                if final_exists:
                    self.out.notices.append(
                        f"a password reset of {name} was interrupted, so the live password may not be "
                        f"the one in {PASSWORD_FILE}: run `iamlayer password reset {name}`"
                    )
                else:
                    self.add(
                        Kind.STAGED_PASSWORD,
                        name,
                        Action.UPDATE,
                        staged_file,
                        {"file": PASSWORD_FILE},
                        note="the live password is the one an interrupted apply staged",
                    )
            elif want is None or not want.login_profile:
                self.add(
                    Kind.STAGED_PASSWORD,
                    name,
                    Action.DELETE,
                    staged_file,
                    None,
                    note="staged by an interrupted apply; AWS never made it live",
                )
            # else: the login profile's create settles it first

    def _user_update(self, want: UserState, have: UserState) -> None:
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if want.path != have.path:
            before["path"], after["path"] = have.path, want.path
        tags_before, tags_after = tag_changes(want.tags, have.tags)
        if tags_after:
            before["tags"], after["tags"] = tags_before, tags_after
        if after:
            self.add(Kind.USER, want.name, Action.UPDATE, before, after)

    def _credentials(
        self,
        want: UserState,
        have: UserState,
        intent: SecretIntent | None,
        issued: frozenset[str],
        in_flight: KeyCreation | None,
    ) -> None:
        """Login profile and access key.

        `issued`: ids of the keys iamlayer holds a ciphertext for; `in_flight`: the journal says an
        access key creation for this user did not finish (and which keys it may have made).
        """
        name = want.name
        if want.credentials_kept:
            return  # `credentials: keep`: what exists stays, nothing is made (see spec.model.User)
        secret = asdict(intent) if intent else None
        if want.login_profile and not have.login_profile:
            after = {**(secret or {}), "password_policy": password_policy_json(self.desired.password_policy)}
            note = "first settles the password an interrupted apply staged" if name in self.staged else ""
            self.add(Kind.LOGIN_PROFILE, name, Action.CREATE, None, after, note=note)
        elif not want.login_profile and have.login_profile:
            self.add(Kind.LOGIN_PROFILE, name, Action.DELETE, {"exists": True}, None)
        keys = have.access_keys or ()
        unrecorded = [k for k in keys if k.id and k.id not in issued]
        # Left by an apply that died, or whose answer was lost, between CreateAccessKey and writing
        # the ciphertext (the journal says so): nobody can read its secret, so it goes.
        orphans = [k for k in unrecorded if in_flight is not None and in_flight.may_have_made(k)]
        for k in orphans:
            self.add(
                Kind.ACCESS_KEY,
                name,
                Action.DELETE,
                {"access_key_id": k.id},
                None,
                sub=k.id,
                note="made by an interrupted apply; no encrypted secret was written",
            )
        keys = tuple(k for k in keys if k not in orphans)
        unrecorded = [k for k in unrecorded if k not in orphans]
        if want.access_keys:
            if unrecorded:
                ids = ", ".join(k.id for k in unrecorded)
                self.out.notices.append(
                    f"user {name}: access key(s) {ids} have no encrypted secret in the outputs (made by hand, "
                    f"or the file was removed); if nobody holds the secret: iamlayer access-key rotate {name} "
                    "--delete-old"
                )
            if not keys:
                after = {k: v for k, v in (secret or {}).items() if k in ("pgp_key", "fingerprint")}
                self.add(Kind.ACCESS_KEY, name, Action.CREATE, None, after)
        else:
            # Only keys iamlayer issued are removed; people create their own keys after onboarding.
            for k in keys:
                if k.id in issued:
                    self.add(Kind.ACCESS_KEY, name, Action.DELETE, {"access_key_id": k.id}, None, sub=k.id)


def diff(
    account: str,
    project: str,
    desired: AccountState,
    live: AccountState,
    *,
    secret_intents: Mapping[str, SecretIntent] | None = None,
    deleted_users: Mapping[str, dict[str, Any]] | None = None,
    adopt_groups: frozenset[str] = frozenset(),
    issued_keys: Mapping[str, frozenset[str]] | None = None,
    keys_in_flight: Mapping[str, KeyCreation] | None = None,
    staged_passwords: Mapping[str, bool] | None = None,
    stale_keys: Mapping[str, frozenset[str]] | None = None,
    adopt: bool = False,
    needed_policies: Mapping[str, str] | None = None,
) -> DiffResult:
    """Changes that turn `live` into `desired` in one account, in execution order.

    `adopt`: resources the spec names that no iamlayer project owns are adopted (ADOPT changes).
    `needed_policies`: customer-managed policies an IAM Identity Center permission set references
    in this account (cm_ref(path, name) -> why): never deleted, the plan says why instead
    (iamlayer.plan.ic_diff.needed_policy_copies).
    """
    d = _Differ(account, project, desired, live, staged_passwords or {}, adopt, needed_policies)
    d.account_settings()
    d.policies()
    d.oidc_providers()
    d.roles()
    d.groups(adopt_groups)
    d.users(
        secret_intents or {}, deleted_users or {}, issued_keys or {}, keys_in_flight or {}, stale_keys or {}
    )
    d.staged_passwords(staged_passwords or {})
    d.out.changes.sort(key=lambda c: (c.stage, c.address))
    return d.out
