"""The `identity_center:` block of an imported spec, from the instance as a reader found it. Pure.

The rules, chosen so that the first plan of the written spec changes nothing:

- Only what the project owns is imported (the markers of iamlayer.state.ic_model: a permission
  set's or group's description, a user's user type). What no project owns is left out, with how
  to adopt it: `adopt: true` covers IAM only, and Identity Center resources are adopted by writing
  the marker. What another project owns is left out.
- A permission set keeps its description, session duration, relay state, AWS-managed and
  customer-managed policies, inline policy and boundary. It references a customer-managed policy
  by path and name, and iamlayer makes the copy in each account from the spec's `policies:`: a
  reference is written as the spec policy of that path and name. A boundary is written only when
  there is one (without the field iamlayer leaves the boundary alone); one that could not be read,
  or names no spec policy, is left alone and said so.
- An entitlement of the account access manager is written as `roles.<Role>.entitled:` when its
  principal and role are imported and it holds in every account of the role (`entitled_roles`).
- An assignment is imported when its principal and permission set are; someone else's assignment
  of an imported permission set stays as it is, and so do the policy copies it needs (a plan never
  deletes those: iamlayer.plan.ic_diff.needed_policy_copies).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from iamlayer.importer.model import IcSource, ImportFinding
from iamlayer.plan.desired import ACCOUNT_ACCESS_TRUST
from iamlayer.plan.ic_diff import adopt_hint
from iamlayer.spec.ic_model import (
    DEFAULT_SESSION_DURATION,
    EXTERNAL_SOURCE,
    IDENTITY_CENTER_SOURCE,
    Assignment,
    IcGroup,
    IcUser,
    IdentityCenter,
    PermissionSet,
    duration_seconds,
    iso_duration,
)
from iamlayer.spec.ic_validate import IDENTITY_STORE_ID
from iamlayer.spec.model import ManagedPolicy, Role
from iamlayer.state.ic_model import IcState, PermissionSetState, cm_ref
from iamlayer.state.normalize import normalize, normalize_statement

WHERE = "identity center"


def ic_owners(src: IcSource | None) -> Counter[str]:
    """How many users, groups and permission sets each iamlayer project owns in the instance."""
    owners: Counter[str] = Counter()
    if src is not None:
        state = src.state
        for found in (state.users, state.groups, state.permission_sets):
            owners.update(r.owner for r in found.values() if r.owner)
    return owners


class _Owned(Protocol):
    @property
    def owner(self) -> str | None: ...  # the project whose marker it bears, None: no marker


_O = TypeVar("_O", bound=_Owned)


class _IcBuilder:
    def __init__(
        self,
        src: IcSource,
        project: str,
        accounts: Mapping[str, str],
        policies: Mapping[str, ManagedPolicy],
        findings: list[ImportFinding],
    ) -> None:
        self.src = src
        self.state: IcState = src.state
        self.project = project
        self.accounts = accounts  # account id -> spec name, in the spec's order
        self.by_ref = {cm_ref(p.path, name): name for name, p in policies.items()}
        self.findings = findings

    def _ours(self, kind: str, found: Mapping[str, _O]) -> list[tuple[str, _O]]:
        """What of `found` this project owns, by name; the rest is left out, saying why (one finding
        per kind and owner)."""
        owners = {n: x.owner for n, x in found.items()}
        unowned = sorted(n for n in found if owners[n] is None)
        if unowned:
            hint = adopt_hint(kind, "NAME", self.project, self.state.identity_store_id)
            self.findings.append(
                ImportFinding(
                    "left_out",
                    WHERE,
                    f"{len(unowned)} {kind}(s) no iamlayer project made: {', '.join(unowned[:20])}"
                    + (" ..." if len(unowned) > 20 else ""),
                    "`adopt: true` covers IAM only. "
                    + hint.split(". ", 1)[1].replace("; or rename it in the spec", ", then import again"),
                )
            )
        others = sorted(n for n in found if owners[n] not in (None, self.project))
        for name in others:
            self.findings.append(
                ImportFinding(
                    "left_out",
                    WHERE,
                    f"{kind} {name}",
                    f"owned by iamlayer project {owners[name]!r}, not {self.project!r}",
                )
            )
        return [(n, x) for n, x in sorted(found.items()) if x.owner == self.project]

    def users(self) -> dict[str, IcUser]:
        out: dict[str, IcUser] = {}
        for name, u in self._ours("user", self.state.users):
            if not (u.email and u.given_name and u.family_name):
                self.findings.append(
                    ImportFinding(
                        "left_out",
                        WHERE,
                        f"user {name}",
                        "it lacks an email, given name or family name, which the spec requires",
                    )
                )
                continue
            out[name] = IcUser(
                name=name,
                email=u.email,
                given_name=u.given_name,
                family_name=u.family_name,
                display_name=u.display_name or f"{u.given_name} {u.family_name}",
            )
        return out

    def groups(self, users: Mapping[str, IcUser]) -> dict[str, IcGroup]:
        return {
            name: IcGroup(
                name=name,
                description=g.description,
                # Someone else's members stay as they are: the plan manages iamlayer's users only.
                members=tuple(sorted(m for m in g.members if m in users)),
            )
            for name, g in self._ours("group", self.state.groups)
        }

    def permission_sets(self) -> dict[str, PermissionSet]:
        out: dict[str, PermissionSet] = {}
        for name, ps in self._ours("permission set", self.state.permission_sets):
            unknown = sorted(r for r in ps.customer_managed if r not in self.by_ref)
            if unknown:
                self.findings.append(
                    ImportFinding(
                        "left_out",
                        WHERE,
                        f"permission set {name}",
                        f"it references customer-managed policies the spec's `policies:` lacks ({', '.join(unknown)}); "
                        "iamlayer makes the copies from there. Until it is in the spec, a plan deletes it: "
                        "remove its [iamlayer:<project>] description marker, or add those policies",
                    )
                )
                continue
            seconds = duration_seconds(ps.session_duration)
            boundary, managed = self._boundary(ps)
            out[name] = PermissionSet(
                name=name,
                description=ps.description,
                session_duration=iso_duration(seconds) if seconds else DEFAULT_SESSION_DURATION,
                policies=tuple(sorted(ps.policies)),
                customer_managed_policies=tuple(sorted(self.by_ref[r] for r in ps.customer_managed)),
                inline_policy=ps.inline,
                boundary=boundary,
                boundary_managed=managed,
                relay_state=ps.relay_state,
            )
        return out

    def _boundary(self, ps: PermissionSetState) -> tuple[str | None, bool]:
        """(boundary, boundary_managed): written only when the permission set has one."""
        why = self.src.unread_boundaries.get(ps.name)
        if why is not None or not ps.boundary_read:
            self.findings.append(
                ImportFinding(
                    "kept",
                    WHERE,
                    f"permission set {ps.name}: permissions boundary",
                    f"it could not be read ({why or 'not read'}); the spec leaves it as it is",
                )
            )
            return None, False
        if ps.boundary is None or ps.boundary.startswith("arn:"):
            return ps.boundary, ps.boundary is not None
        if ps.boundary in self.by_ref:
            return self.by_ref[ps.boundary], True
        self.findings.append(
            ImportFinding(
                "kept",
                WHERE,
                f"permission set {ps.name}: permissions boundary {ps.boundary}",
                "not a policy of the spec's `policies:`; the spec leaves it as it is",
            )
        )
        return None, False

    def assignments(
        self, users: Mapping[str, IcUser], groups: Mapping[str, IcGroup], sets: Mapping[str, PermissionSet]
    ) -> tuple[Assignment, ...]:
        """In the order the writer lists them: by principal and permission set, accounts in spec order."""
        order = {acc: i for i, acc in enumerate(self.accounts)}
        kept: list[str] = []
        wanted: list[Assignment] = []
        for a in sorted(self.state.assignments, key=lambda a: (a.principal_type, a.principal, a.permission_set, order.get(a.account_id, len(order)))):  # fmt: skip
            if a.permission_set not in sets:
                continue
            ours = (groups if a.principal_type == "GROUP" else users).get(a.principal) is not None
            where = self.accounts.get(a.account_id)
            if not ours or where is None:
                kept.append(
                    f"{a.principal_type.lower()}/{a.principal} {a.permission_set}@{where or a.account_id}"
                )
                continue
            wanted.append(Assignment(a.principal_type, a.principal, a.permission_set, where))
        if kept:
            self.findings.append(
                ImportFinding(
                    "kept",
                    WHERE,
                    f"{len(kept)} assignment(s) of imported permission sets: {', '.join(kept[:20])}"
                    + (" ..." if len(kept) > 20 else ""),
                    "their principal is not iamlayer's (or their account is not in the spec): they stay as "
                    "they are, and so do the policy copies they need",
                )
            )
        return tuple(wanted)

    @property
    def external_source(self) -> bool:
        """Whether an external identity provider (Okta, Entra ID, Google...) provisions the store:
        its users and groups carry ExternalIds, which only SCIM sets (CreateUser cannot)."""
        return any(u.external for u in self.state.users.values()) or any(
            g.external for g in self.state.groups.values()
        )

    def external_principals(
        self, sets: Mapping[str, PermissionSet]
    ) -> tuple[dict[str, IcUser], dict[str, IcGroup]]:
        """With an external source: the principals the imported permission sets are assigned to,
        as names only (the identity provider owns the rest; iamlayer looks them up by name)."""
        named = {
            (a.principal_type, a.principal)
            for a in self.state.assignments
            if a.permission_set in sets
            and a.account_id in self.accounts
            and not a.principal.startswith("id:")
        }
        users = {n: IcUser(n, "", "", "", "", external=True) for kind, n in sorted(named) if kind == "USER"}
        groups = {n: IcGroup(n, external=True) for kind, n in sorted(named) if kind == "GROUP"}
        self.findings.append(
            ImportFinding(
                "kept",
                WHERE,
                "the identity store",
                "an external identity provider provisions it (its users and groups have ExternalIds): written as "
                "identity_source: external, with the users and groups the imported permission sets are assigned "
                "to by name only; iamlayer looks them up and never changes them",
            )
        )
        return users, groups

    def build(self, account: str) -> IdentityCenter | None:
        external = self.external_source
        sets = self.permission_sets()
        if external:
            users, groups = self.external_principals(sets)
        else:
            users = self.users()
            groups = self.groups(users)
        if not (users or groups or sets):
            return None
        store = self.state.identity_store_id
        return IdentityCenter(
            identity_source=EXTERNAL_SOURCE if external else IDENTITY_CENTER_SOURCE,
            account=account,
            region=self.src.region,
            # Names the portal's default URL for people's sso profiles (spec.ic_model.portal_url).
            identity_store_id=store if IDENTITY_STORE_ID.fullmatch(store) else None,
            users=users,
            groups=groups,
            permission_sets=sets,
            assignments=self.assignments(users, groups, sets),
        )


def build_identity_center(
    src: IcSource,
    project: str,
    accounts: Mapping[str, str],
    policies: Mapping[str, ManagedPolicy],
    findings: list[ImportFinding],
) -> IdentityCenter | None:
    """The spec's `identity_center:` block (None when the project owns nothing there).

    `accounts` maps account ids to spec names, in the spec's order; `policies` are the spec's;
    what is left out or kept as it is goes to `findings`.
    """
    if src.account_id not in accounts:
        findings.append(
            ImportFinding(
                "left_out", WHERE, "the instance", f"its account {src.account_id} is not in the spec"
            )
        )
        return None
    return _IcBuilder(src, project, accounts, policies, findings).build(accounts[src.account_id])


def entitled_roles(
    roles: Mapping[str, Role],
    src: IcSource,
    ic: IdentityCenter,
    accounts: Mapping[str, str],
    findings: list[ImportFinding],
) -> dict[str, Role]:
    """The roles with `entitled:` from the account access manager's entitlements the reader
    found (`src.state.entitlements`): a principal of the imported `identity_center:` entitled to
    an imported role in every account the role is in. One entitled in some of them only is kept
    as it is, not written (the spec entitles in every account of the role), and so is one to a
    role or principal not imported. `accounts` maps account ids to spec names."""
    ids = {name: account_id for account_id, name in accounts.items()}
    by_arn = {
        f"arn:aws:iam::{ids[a]}:role{r.path}{r.name}": (key, a)
        for key, r in roles.items()
        for a in r.accounts
        if a in ids
    }
    found: dict[str, dict[str, set[str]]] = {}
    for e in sorted(src.state.entitlements, key=lambda e: (e.role_arn, e.principal_type, e.principal)):
        principal = f"{e.principal_type.lower()}/{e.principal}"
        hit = by_arn.get(e.role_arn)
        known = ic.groups if e.principal_type == "GROUP" else ic.users
        if hit is None or e.principal not in known:
            why = "its role is not imported" if hit is None else "its principal is not imported"
            findings.append(ImportFinding("kept", WHERE, f"entitlement of {principal} to {e.role_arn}", why))
            continue
        found.setdefault(hit[0], {}).setdefault(principal, set()).add(hit[1])
    out = dict(roles)
    for key, principals in found.items():
        role = roles[key]
        whole = [p for p, where in principals.items() if where >= set(role.accounts)]
        for p, where in principals.items():
            if p not in whole:
                findings.append(
                    ImportFinding(
                        "kept",
                        WHERE,
                        f"entitlement of {p} to role {key} in {', '.join(sorted(where))}",
                        "roles.<Role>.entitled entitles in every account of the role; these accounts only are kept as they are",
                    )
                )
        if whole:
            out[key] = replace(
                role, entitled=tuple(whole), trust_policy=_without_account_access(role.trust_policy)
            )
    return out


def _without_account_access(trust: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """A verbatim trust policy without the statement `entitled:` renders (the account access
    manager's), which the role then gets back from `entitled:` as it was."""
    if trust is None:
        return None
    wanted = normalize_statement(ACCOUNT_ACCESS_TRUST)
    statements = [st for st in normalize(trust).get("Statement", []) if normalize_statement(st) != wanted]
    return {**normalize(trust), "Statement": statements}
