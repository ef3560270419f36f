"""From what a reader found to a `Spec` that plans clean against the same accounts, and a report.

Pure: no I/O. The rules, each chosen so that the first plan of the written spec changes nothing
but ownership markers:

- Account names come from the aliases (`<project_long>-<name>`, the alias iamlayer gives by
  default), else the organization's account names, else `account-<id>`. An account without an
  alias gets `alias: false`, one whose alias is not the default keeps it written out.
- The project is the one named by the ownership markers found (importing a layer iamlayer already
  manages keeps its name); resources another iamlayer project owns are left out.
- The people account is the one with the most users (IAM users and groups live there only).
- From live accounts, a role no iamlayer project owns is imported only when it looks like the
  layer's: its trust policy names a principal of the people account (iamlayer's shape does).
  Roles services, Control Tower, StackSets and Identity Center made are listed as left out
  (`ImportOptions.all_roles` takes them too): a role in the spec is iamlayer's to delete. A
  Terraform state names what its layer manages, so every role in it is the layer's.
- A role whose trust policy has iamlayer's shape becomes `trusted`/`mfa_max_age`/...; any other
  trust policy is kept verbatim (`trust_policy:`). Roles of one name with the same definition in
  several accounts become one role with `accounts:`; different definitions stay apart (`name:`).
- A group's inline policy equal to what iamlayer renders for `assume:` or `self_management:`
  becomes that field; every other policy is kept as it is.
- A user whose PGP key is known gets `pgp_key`, `console` and `access_key` as they are; any other
  user gets `credentials: keep`, so nothing about their password or keys ever changes.
- Anything that would make the spec invalid, or adoption impossible, is left out whole (a group
  without one of its inline policies would plan that policy's deletion), with the reason.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from iamlayer.errors import IamlayerError
from iamlayer.importer.ic_build import build_identity_center, entitled_roles, ic_owners
from iamlayer.importer.model import ImportFinding, ImportSource, SourceAccount
from iamlayer.plan.desired import (
    ASSUME_POLICY_NAME,
    SELF_MANAGEMENT_POLICY_NAME,
    account_grants,
    assume_document,
    self_management_policy,
    trust_document,
)
from iamlayer.spec import policy_grammar as grammar
from iamlayer.spec.edit import account_name
from iamlayer.spec.ic_model import IdentityCenter
from iamlayer.spec.model import (
    Account,
    Group,
    ManagedPolicy,
    Role,
    SelfManagement,
    Spec,
    User,
)
from iamlayer.spec.validate import ACCOUNT_NAME, ALIAS, MAX_TAGS, PROJECT, ROLE_NAME
from iamlayer.state.model import (
    MANAGED_TAGS_TAG,
    OWNER_TAG,
    AccountState,
    GroupState,
    PolicyState,
    Resource,
    RoleState,
    UserState,
    group_marker_document,
    owner_of,
    strip_policy_marker,
)
from iamlayer.state.normalize import normalize

DEFAULT_PROJECT = "imported"
#: roles AWS or another service owns: Identity Center's, kept out of every layer
RESERVED_ROLE_PATHS = ("/aws-reserved/", "/aws-service-role/")
#: the names other AWS tools give the roles they make in every account, and who makes them
FOREIGN_ROLE_NAMES = (
    (re.compile(r"AWSControlTowerExecution$|aws-controltower-", re.IGNORECASE), "AWS Control Tower"),
    (
        re.compile(
            r"stacksets-exec-|AWSCloudFormationStackSet(Administration|Execution)Role$", re.IGNORECASE
        ),
        "CloudFormation StackSets",
    ),
    (re.compile(r"AWSReservedSSO_", re.IGNORECASE), "IAM Identity Center"),
)
#: the path the console gives the roles it makes for a service (Lambda, CodeBuild...)
SERVICE_ROLE_PATH = "/service-role/"


@dataclass(frozen=True)
class SplitRole:
    """A role name defined differently in some accounts: which spec entry holds which accounts."""

    name: str
    entries: tuple[tuple[str, tuple[str, ...]], ...]  # (spec key, account names)
    differences: tuple[str, ...]  # fields that differ between the definitions


@dataclass
class ImportReport:
    """What the import did, for IMPORT.md and `--json`."""

    origin: str
    source: str
    project: str
    project_from: str  # how the project name was chosen
    people_account: str
    accounts: list[tuple[str, str, str | None]] = field(default_factory=list)  # name, id, alias
    counts: dict[str, int] = field(default_factory=dict)
    adopt: list[str] = field(default_factory=list)  # "account/kind/name" of each resource to adopt
    owned: int = 0  # resources this project owns already
    kept_users: list[str] = field(default_factory=list)
    key_users: list[str] = field(default_factory=list)
    verbatim_trust: list[str] = field(default_factory=list)  # role keys
    recognised: list[str] = field(default_factory=list)  # fields recognised from iamlayer's shapes
    split_roles: list[SplitRole] = field(default_factory=list)
    findings: list[ImportFinding] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # spec key path -> comment for the YAML
    roles_left_out: list[tuple[str, str, str]] = field(default_factory=list)  # account, role, why

    def as_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "source": self.source,
            "project": self.project,
            "project_from": self.project_from,
            "people_account": self.people_account,
            "accounts": [{"name": n, "id": i, "alias": a} for n, i, a in self.accounts],
            "counts": self.counts,
            "adopt": self.adopt,
            "already_owned": self.owned,
            "credentials_kept": self.kept_users,
            "users_with_keys": self.key_users,
            "verbatim_trust_policies": self.verbatim_trust,
            "split_roles": [
                {
                    "name": s.name,
                    "entries": [{"key": k, "accounts": list(a)} for k, a in s.entries],
                    "differences": list(s.differences),
                }
                for s in self.split_roles
            ],
            "findings": [
                {"kind": f.kind, "where": f.where, "what": f.what, "why": f.why} for f in self.findings
            ],
            "roles_left_out": [{"account": a, "role": r, "why": w} for a, r, w in self.roles_left_out],
        }


@dataclass(frozen=True)
class ImportOptions:
    """What a person may decide instead of the builder."""

    project: str | None = None
    project_long: str | None = None
    people_account: str | None = None  # by spec name or account id
    all_roles: bool = False  # import aws: every role, not only those that look like the layer's


def build_spec(
    source: ImportSource, spec_path: Path, options: ImportOptions | None = None
) -> tuple[Spec, ImportReport]:
    """The spec (as `load_spec(spec_path)` will read it back) and the report of the import."""
    return _Builder(source, spec_path.resolve(), options or ImportOptions()).build()


# --- pure helpers, also used by tests ---------------------------------------------------------------


def common_alias_prefix(aliases: Iterable[str]) -> str | None:
    """The `<project_long>` most aliases start with (`acme-corp-security`, ...), if two share one.

    The prefix most aliases share wins; among those, the longest. One alias alone does not say
    where its prefix ends, and an account whose alias is different keeps it written out.
    """
    found = sorted(set(aliases))
    counts: Counter[str] = Counter()
    for alias in found:
        parts = alias.split("-")
        for i in range(1, len(parts)):
            counts["-".join(parts[:i])] += 1
    best = max(counts.items(), key=lambda kv: (kv[1], len(kv[0])), default=None)
    return best[0] if best is not None and best[1] >= 2 else None


@dataclass(frozen=True)
class TrustShape:
    """A trust policy of the shape iamlayer renders (see iamlayer.plan.desired.trust_document)."""

    trusted_account_id: str
    mfa_max_age: int | None
    source_identity: bool
    tag_session: bool
    named_sessions: bool = False  # sessions must be named after the caller's user


def recognise_trust(doc: Mapping[str, Any]) -> TrustShape | None:
    """The iamlayer fields a trust policy stands for, or None when it has another shape.

    Decided by rendering the candidate back and comparing: only an exact match is taken, so the
    role's trust policy is never changed by importing it.
    """
    want = normalize(doc)
    statements = want.get("Statement", [])
    if not 1 <= len(statements) <= 2:
        return None
    st = statements[0]
    principal = st.get("Principal")
    if not isinstance(principal, Mapping) or list(principal) != ["AWS"] or len(principal["AWS"]) != 1:
        return None
    arn = str(principal["AWS"][0])
    prefix, suffix = "arn:aws:iam::", ":root"
    account_id = arn[len(prefix) : -len(suffix)] if arn.startswith(prefix) and arn.endswith(suffix) else ""
    if not (len(account_id) == 12 and account_id.isdigit()):
        return None
    actions = {a for s in statements for a in s.get("Action", [])}
    mfa: int | None = None
    age = (st.get("Condition") or {}).get("NumericLessThan", {}).get("aws:MultiFactorAuthAge")
    if age:
        try:
            mfa = int(age[0])
        except (TypeError, ValueError):
            return None
    for named in (True, False):
        shape = TrustShape(
            account_id, mfa, "sts:SetSourceIdentity" in actions, "sts:TagSession" in actions, named
        )
        rendered = trust_document(
            account_id,
            mfa_max_age=mfa,
            source_identity=shape.source_identity,
            tag_session=shape.tag_session,
            named_sessions=named,
        )
        if rendered == want:
            return shape
    return None


def _trust_principals(doc: Mapping[str, Any]) -> dict[str, list[str]]:
    """Principal type -> the principals the Allow statements of a trust policy name."""
    out: dict[str, list[str]] = {}
    for st in normalize(doc).get("Statement", []):
        principal = st.get("Principal")
        if st.get("Effect") != "Allow" or principal is None:
            continue
        for kind, values in principal.items() if isinstance(principal, Mapping) else [("AWS", ["*"])]:
            out.setdefault(kind, []).extend(str(v) for v in values)
    return out


def foreign_role(r: RoleState, people_id: str) -> str | None:
    """Why `r`, a role no iamlayer project owns, is not the layer's; None when it looks like it.

    The layer's roles are those whose trust policy names a principal of the people account
    (iamlayer's trust shape among them). Never the ones Control Tower, StackSets or Identity
    Center name, nor a service's: its trust policy names a Service, or its path is /service-role/.
    Trusting the management account is not enough: Control Tower, Organizations
    (OrganizationAccountAccessRole) and account factories make such roles in every account.
    """
    for pattern, maker in FOREIGN_ROLE_NAMES:
        if pattern.match(r.name):
            return f"{maker} made it (its name says so)"
    if r.path.startswith(SERVICE_ROLE_PATH):
        return f"a service's role (path {r.path})"
    principals = _trust_principals(r.trust)
    if principals.get("Service"):
        return f"a service's role: it trusts {', '.join(sorted(principals['Service']))}"
    # arn:aws:iam::<id>:root, :role/..., :user/..., arn:aws:sts::<id>:assumed-role/..., or a bare id
    if any(a == people_id or a.split(":")[4:5] == [people_id] for a in principals.get("AWS", [])):
        return None
    named = sorted({p for values in principals.values() for p in values})
    return "trusts no principal of the people account" + (
        f": it trusts {', '.join(named[:3])}{' ...' if len(named) > 3 else ''}" if named else ""
    )


def recognise_self_management(doc: Mapping[str, Any]) -> SelfManagement | None:
    """The `self_management:` mode whose policy `doc` is, or None."""
    want = normalize(doc)
    for mode in (SelfManagement.ENFORCE_MFA, SelfManagement.RESTRICTED):
        if self_management_policy(mode) == want:
            return mode
    return None


def recognise_assume(doc: Mapping[str, Any], arns_of: Mapping[str, frozenset[str]]) -> tuple[str, ...] | None:
    """The role keys whose assume-roles policy `doc` is (`arns_of`: role key -> its role ARNs):
    the shape iamlayer writes (each role in every account, `aws:ResourceAccount` naming the
    accounts), or the one it wrote before issue 21 (one statement listing every role ARN)."""
    want = normalize(doc)
    statements = want.get("Statement", [])
    listed = {r for s in statements for r in (s.get("Resource") or [])}
    if not statements or not all(isinstance(r, str) and r.startswith("arn:") for r in listed):
        return None
    wildcards = {f"arn:aws:iam::*:{r.split(':', 5)[5]}" for r in listed}
    keys = tuple(
        k
        for k, arns in arns_of.items()
        if arns and (arns <= listed or {f"arn:aws:iam::*:{a.split(':', 5)[5]}" for a in arns} <= wildcards)
    )
    if not keys:
        return None
    arns = set().union(*(arns_of[k] for k in keys))
    if assume_document(account_grants(arns)) == want or legacy_assume_document(arns) == want:
        return keys
    return None


def legacy_assume_document(role_arns: Iterable[str]) -> dict[str, Any]:
    """The assume-roles policy iamlayer wrote before issue 21: every role ARN listed."""
    return normalize(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AssumeLayerRoles",
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Resource": sorted(set(role_arns)),
                }
            ],
        }
    )


def likely_people_account(
    accounts: Sequence[SourceAccount], wanted: str | None = None, names: Mapping[str, str] | None = None
) -> SourceAccount:
    """The account `wanted` names, else the one with the most users (then groups): IAM users and
    groups live in the people account only.

    `wanted` is an id, a name (`names`, or the one given on the command line), an alias or an
    Organizations name, or the end of one after a `-` (`security` for acme-corp-security).
    """
    if not wanted:
        return max(accounts, key=lambda a: (len(a.state.users), len(a.state.groups)))  # max keeps the first

    def known(acc: SourceAccount) -> set[str]:
        return {acc.id, acc.name, (names or {}).get(acc.id, ""), acc.state.alias or "", acc.org_name,
                account_name(acc.org_name, "") if acc.org_name else ""} - {""}  # fmt: skip

    exact = [a for a in accounts if wanted in known(a)]
    ending = [a for a in accounts if any(k.endswith("-" + wanted) for k in known(a))]
    match = exact or ending
    if len(match) == 1:
        return match[0]
    raise IamlayerError(
        f"people account {wanted!r} "
        + ("names several accounts: " if match else "is not among the accounts read: ")
        + ", ".join(
            f"{(names or {}).get(a.id) or a.name or a.org_name or a.id} ({a.id})" for a in (match or accounts)
        )
    )


def _doc_key(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _no_owner_tag(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags for the spec: without iamlayer's own (ownership, and the list of spec tag keys)."""
    return {k: v for k, v in sorted(tags.items()) if k not in (OWNER_TAG, MANAGED_TAGS_TAG)}


# --- the builder -------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, source: ImportSource, spec_path: Path, options: ImportOptions) -> None:
        self.src = source
        self.accounts = list(source.accounts)  # in the order the spec lists them, once known
        self.path = spec_path
        self.opt = options
        self.findings: list[ImportFinding] = list(source.findings)
        self.adopt: list[str] = []
        self.owned = 0
        self.notes: dict[str, str] = {}
        self.roles_left_out: list[tuple[str, str, str]] = []

    # -- naming ---------------------------------------------------------------------------------
    def _project(self) -> tuple[str, str]:
        if self.opt.project:
            if not PROJECT.fullmatch(self.opt.project):
                raise IamlayerError(
                    f"--project {self.opt.project!r} is not a valid project name: a-z, 0-9 and -, "
                    "at most 32 characters"
                )
            return self.opt.project, "--project"
        owners: Counter[str] = Counter()
        for acc in self.accounts:
            for r in _resources(acc.state):
                owner = owner_of(r)
                if owner:
                    owners[owner] += 1
        owners.update(ic_owners(self.src.identity_center))
        if owners:
            (project, _), *others = owners.most_common()
            if others:
                self.findings.append(
                    ImportFinding(
                        "note",
                        "all accounts",
                        f"resources of several iamlayer projects: {', '.join(f'{p} ({c})' for p, c in owners.most_common())}",
                        f"imported as project {project}, the most common; the others' resources are left out "
                        "(import them into their own layer)",
                    )
                )
            return project, "the ownership markers found: iamlayer already manages these accounts"
        guess = (self.opt.project_long or self._alias_prefix() or "").lower()[:32].strip("-")
        if guess and PROJECT.fullmatch(guess):
            return guess, "the account aliases (no ownership marker was found)"
        return DEFAULT_PROJECT, "the default (no ownership marker or alias prefix was found; use --project)"

    def _alias_prefix(self) -> str | None:
        return common_alias_prefix(a.state.alias for a in self.accounts if a.state.alias)

    def _names(self, project_long: str) -> dict[str, str]:
        """Account id -> spec name, unique and valid, in source order."""
        names: dict[str, str] = {}
        taken: set[str] = set()
        for acc in self.accounts:
            candidates = [acc.name]
            alias = acc.state.alias or ""
            if alias.startswith(project_long + "-"):
                candidates.append(alias[len(project_long) + 1 :])
            if acc.org_name:
                candidates.append(account_name(acc.org_name, project_long))
            candidates += [alias, f"account-{acc.id}"]
            base = next(c for c in candidates if c and ACCOUNT_NAME.fullmatch(c))
            name, n = base, 2
            while name in taken:
                name, n = f"{base}-{n}", n + 1
            taken.add(name)
            names[acc.id] = name
        return names

    def _people(self, names: Mapping[str, str]) -> SourceAccount:
        return likely_people_account(
            self.accounts, self.opt.people_account or self.src.people_account_id, names
        )

    # -- the whole spec -------------------------------------------------------------------------
    def build(self) -> tuple[Spec, ImportReport]:
        if not self.accounts:
            raise IamlayerError("no account was read; nothing to import")
        project, project_from = self._project()
        project_long = self.opt.project_long or self._alias_prefix() or project
        names = self._names(project_long)
        people_src = self._people(names)
        people = names[people_src.id]
        management = next((names[a.id] for a in self.accounts if a.management), None)
        if management is None and "management" in names.values():
            management = "management"
        # The spec lists the management account, then the people account, then the others by name.
        rank = {management: 0, people: 1}
        self.accounts.sort(key=lambda a: (rank.get(names[a.id], 2), names[a.id]))
        ids = {names[a.id]: a.id for a in self.accounts}
        ids_to_names = {a.id: names[a.id] for a in self.accounts}  # in the spec's order
        accounts = {
            names[a.id]: Account(
                name=names[a.id],
                id=a.id,
                alias=self._alias(a, names[a.id], project_long),
                password_policy=a.state.password_policy,
            )
            for a in self.accounts
        }

        policies = self._policies(people_src, people, project)
        roles, split = self._roles(names, ids, people, management, project)
        groups = self._groups(people_src, people, project, policies, roles, ids)
        users = self._users(people_src, people, project, groups)
        ic = (
            build_identity_center(self.src.identity_center, project, ids_to_names, policies, self.findings)
            if self.src.identity_center is not None
            else None
        )
        self._left_in_member_accounts(names, people_src.id, project, ic)
        if ic is not None and self.src.identity_center is not None:
            roles = entitled_roles(roles, self.src.identity_center, ic, ids_to_names, self.findings)

        spec = Spec(
            path=self.path,
            project=project,
            project_long=project_long,
            region=self.src.region,
            accounts=accounts,
            people_account=people,
            management_account=management,
            access_role=self.src.access_role,
            policies=policies,
            roles=roles,
            groups=groups,
            users=users,
            regions_in_use=(self.src.region,),
            outputs_dir=self.path.parent / "outputs",
            identity_center=ic,
            adopt=bool(self.adopt),
        )
        report = ImportReport(
            origin=self.src.origin,
            source=self.src.description,
            project=project,
            project_from=project_from,
            people_account=people,
            accounts=[(n, a.id, a.alias) for n, a in accounts.items()],
            counts={
                "accounts": len(accounts),
                "users": len(users),
                "groups": len(groups),
                "policies": len(policies),
                "roles": len(roles),
                "role_instances": sum(len(r.accounts) for r in roles.values()),
                **(
                    {
                        "ic_users": len(ic.users),
                        "ic_groups": len(ic.groups),
                        "permission_sets": len(ic.permission_sets),
                        "ic_assignments": len(ic.assignments),
                    }
                    if ic is not None
                    else {}
                ),
            },
            adopt=self.adopt,
            owned=self.owned,
            kept_users=[u.name for u in users.values() if u.keep_credentials],
            key_users=[u.name for u in users.values() if u.pgp_key is not None],
            verbatim_trust=[k for k, r in roles.items() if r.trust_policy is not None],
            split_roles=split,
            findings=self.findings,
            notes=self.notes,
            roles_left_out=self.roles_left_out,
        )
        return spec, report

    def _alias(self, acc: SourceAccount, name: str, project_long: str) -> str | None:
        alias = acc.state.alias
        if alias is None:
            return None
        if not ALIAS.fullmatch(alias):
            self.findings.append(
                ImportFinding(
                    "kept",
                    name,
                    f"account alias {alias}",
                    "not a valid alias for the spec; left alone (alias: false)",
                )
            )
            return None
        return alias

    # -- ownership --------------------------------------------------------------------------------
    def _ours(self, r: Resource, project: str, where: str, kind: str, name: str) -> bool:
        """Whether to import `r`: no project owns it (it will be adopted) or `project` does."""
        owner = owner_of(r)
        if owner == project:
            self.owned += 1
            return True
        if owner is None:
            if isinstance(r, PolicyState) and r.tags is None:
                self.findings.append(
                    ImportFinding(
                        "left_out",
                        where,
                        f"policy {name}",
                        "its tags could not be read, so whether another iamlayer project owns it is unknown",
                    )
                )
                return False
            self.adopt.append(f"{where}/{kind}/{name}")
            return True
        self.findings.append(
            ImportFinding(
                "left_out", where, f"{kind} {name}", f"owned by iamlayer project {owner!r}, not {project!r}"
            )
        )
        return False

    def _too_many_tags(self, tags: Mapping[str, str], where: str, what: str) -> bool:
        if len(_no_owner_tag(tags)) > MAX_TAGS - 1:
            self.findings.append(
                ImportFinding(
                    "left_out",
                    where,
                    what,
                    f"it has {len(_no_owner_tag(tags))} tags; IAM allows {MAX_TAGS}, "
                    "so iamlayer's ownership tag does not fit",
                )
            )
            return True
        return False

    def _invalid(
        self, doc: Any, where: str, what: str, *, managed: bool = False, trust: bool = False
    ) -> bool:
        """Whether `doc` would make the spec invalid (then the resource is left out, with why)."""
        problems = grammar.check_policy_document(doc, managed=managed, trust=trust)
        if problems:
            first = problems[0]
            self.findings.append(
                ImportFinding(
                    "left_out", where, what, f"its policy document does not pass validation: {first.message}"
                )
            )
        return bool(problems)

    # -- policies -----------------------------------------------------------------------------------
    def _policies(self, acc: SourceAccount, people: str, project: str) -> dict[str, ManagedPolicy]:
        out: dict[str, ManagedPolicy] = {}
        for name, p in sorted(acc.state.policies.items()):
            if not self._ours(p, project, people, "policy", name):
                continue
            if (
                p.tags is not None and self._too_many_tags(p.tags, people, f"policy {name}")
            ) or self._invalid(p.document, people, f"policy {name}", managed=True):
                self.adopt = [a for a in self.adopt if a != f"{people}/policy/{name}"]
                continue
            out[name] = ManagedPolicy(
                name=name,
                document=p.document,
                description=strip_policy_marker(p.description),
                path=p.path,
            )
        return out

    # -- roles ----------------------------------------------------------------------------------------
    def _role_definition(
        self, r: RoleState, people_id: str, management_id: str | None
    ) -> tuple[dict[str, Any], TrustShape | None]:
        shape = recognise_trust(r.trust)
        if shape is not None and shape.trusted_account_id not in (people_id, management_id):
            shape = None  # iamlayer's shape, but trusting an account it cannot name: kept verbatim
        if shape is not None and shape.named_sessions != (shape.trusted_account_id == people_id):
            # The spec would render the other shape (session names are required exactly of the
            # people account's users): kept verbatim, so that importing changes nothing.
            shape = None
        trust: Any = (
            r.trust
            if shape is None
            else {
                "trusted": "people" if shape.trusted_account_id == people_id else "management",
                "mfa_max_age": shape.mfa_max_age,
                "source_identity": shape.source_identity,
                "tag_session": shape.tag_session,
            }
        )
        definition = {
            "path": r.path,
            "trust": trust,
            "max_session_duration": r.max_session_duration,
            "description": r.description,
            "permissions_boundary": r.permissions_boundary,
            "policies": sorted(r.attached),
            "inline_policies": {k: r.inline[k] for k in sorted(r.inline)},
            "tags": _no_owner_tag(r.tags),
        }
        return definition, shape

    def _roles(
        self,
        names: Mapping[str, str],
        ids: Mapping[str, str],
        people: str,
        management: str | None,
        project: str,
    ) -> tuple[dict[str, Role], list[SplitRole]]:
        people_id = ids[people]
        management_id = ids.get(management) if management else None
        # IAM name -> definition key -> (definition, shape, account names)
        found: dict[str, dict[str, tuple[dict[str, Any], TrustShape | None, list[str]]]] = {}
        for acc in self.accounts:
            where = names[acc.id]
            for rname, r in acc.state.roles.items():
                if rname == self.src.access_role:
                    self.findings.append(
                        ImportFinding(
                            "left_out",
                            where,
                            f"role {rname}",
                            "the role iamlayer reaches member accounts "
                            "through (access_role): managing it from the layer could lock iamlayer out",
                        )
                    )
                    continue
                if r.path.startswith(RESERVED_ROLE_PATHS):
                    self.findings.append(
                        ImportFinding(
                            "left_out",
                            where,
                            f"role {rname}",
                            f"path {r.path} is reserved for AWS "
                            "(IAM Identity Center, service-linked roles); AWS manages it",
                        )
                    )
                    continue
                if self.src.origin == "aws" and not self.opt.all_roles and owner_of(r) is None:
                    why = foreign_role(r, people_id)
                    if why is not None:
                        self.roles_left_out.append((where, rname, why))
                        continue
                if not self._ours(r, project, where, "role", rname):
                    continue
                bad = (
                    self._too_many_tags(r.tags, where, f"role {rname}")
                    or self._invalid(r.trust, where, f"role {rname} (trust policy)", trust=True)
                    or any(self._invalid(d, where, f"role {rname} (inline {k})") for k, d in r.inline.items())
                )
                if bad:
                    self.adopt = [a for a in self.adopt if a != f"{where}/role/{rname}"]
                    continue
                definition, shape = self._role_definition(r, people_id, management_id)
                entry = found.setdefault(rname, {}).setdefault(_doc_key(definition), (definition, shape, []))
                entry[2].append(where)

        for where in sorted({a for a, _, _ in self.roles_left_out}):
            left = sorted(n for a, n, _ in self.roles_left_out if a == where)
            self.findings.append(
                ImportFinding(
                    "left_out",
                    where,
                    f"{len(left)} role(s): {', '.join(left[:20])}" + (" ..." if len(left) > 20 else ""),
                    "not the layer's (services', Control Tower's, StackSets', or trusting no principal of the people "
                    "account): never modified or deleted; `--all-roles` imports them",
                )
            )
        roles: dict[str, Role] = {}
        split: list[SplitRole] = []
        taken = {n.lower() for n in found}
        for rname, variants in sorted(found.items()):
            ordered = sorted(variants.values(), key=lambda v: -len(v[2]))
            entries: list[tuple[str, tuple[str, ...]]] = []
            for i, (definition, shape, accounts) in enumerate(ordered):
                key = rname if i == 0 else self._split_key(rname, accounts[0], i, taken)
                taken.add(key.lower())
                roles[key] = self._role(rname, definition, shape, tuple(accounts), people, management)
                entries.append((key, tuple(accounts)))
                if roles[key].trust_policy is not None:
                    self.notes[f"roles.{key}"] = "trust policy kept as it is: not the shape iamlayer writes"
            if len(ordered) > 1:
                differences = tuple(
                    k for k in ordered[0][0] if any(v[0][k] != ordered[0][0][k] for v in ordered[1:])
                )
                split.append(SplitRole(rname, tuple(entries), differences))
                for key, _ in entries:
                    self.notes[f"roles.{key}"] = (
                        f"role {rname} is defined differently in other accounts ({', '.join(differences)} "
                        "differ): see IMPORT.md"
                    )
        return roles, split

    @staticmethod
    def _split_key(name: str, account: str, i: int, taken: set[str]) -> str:
        for key in (f"{name}.{account}", f"{name}.{i + 1}"):
            if ROLE_NAME.fullmatch(key) and key.lower() not in taken:
                return key
        n = i + 1
        while f"{name[:55]}.{n}".lower() in taken:
            n += 1
        return f"{name[:55]}.{n}"

    @staticmethod
    def _role(
        name: str,
        d: Mapping[str, Any],
        shape: TrustShape | None,
        accounts: tuple[str, ...],
        people: str,
        management: str | None,
    ) -> Role:
        trusted = people
        if shape is not None and d["trust"]["trusted"] == "management" and management:
            trusted = management
        return Role(
            name=name,
            accounts=accounts,
            trusted_account=trusted,
            policies=tuple(d["policies"]),
            inline_policies=dict(d["inline_policies"]),
            mfa_max_age=shape.mfa_max_age if shape else None,
            max_session_duration=d["max_session_duration"],
            source_identity=shape.source_identity if shape else False,
            tag_session=shape.tag_session if shape else False,
            permissions_boundary=d["permissions_boundary"],
            description=d["description"],
            path=d["path"],
            tags=dict(d["tags"]),
            trust_policy=None if shape else d["trust"],
        )

    # -- groups ---------------------------------------------------------------------------------------
    def _groups(
        self,
        acc: SourceAccount,
        people: str,
        project: str,
        policies: Mapping[str, ManagedPolicy],
        roles: Mapping[str, Role],
        ids: Mapping[str, str],
    ) -> dict[str, Group]:
        by_arn = {f"arn:aws:iam::{acc.id}:policy{p.path}{p.name}": n for n, p in policies.items()}
        arns_of = {
            key: frozenset(f"arn:aws:iam::{ids[a]}:role{r.path}{r.name}" for a in r.accounts)
            for key, r in roles.items()
        }
        marker = grammar.policy_size(group_marker_document())
        out: dict[str, Group] = {}
        for name, g in sorted(acc.state.groups.items()):
            if not self._ours(g, project, people, "group", name):
                continue
            if any(self._invalid(d, people, f"group {name} (inline {k})") for k, d in g.inline.items()):
                self.adopt = [a for a in self.adopt if a != f"{people}/group/{name}"]
                continue
            size = sum(grammar.policy_size(d) for d in g.inline.values())
            if owner_of(g) is None and size + marker > grammar.GROUP_INLINE_LIMIT:
                self.findings.append(
                    ImportFinding(
                        "left_out",
                        people,
                        f"group {name}",
                        f"its inline policies take {size} of the "
                        f"{grammar.GROUP_INLINE_LIMIT} characters IAM allows a group, leaving no room for "
                        "iamlayer's ownership marker policy",
                    )
                )
                self.adopt = [a for a in self.adopt if a != f"{people}/group/{name}"]
                continue
            inline = dict(g.inline)
            assume: tuple[str, ...] = ()
            mode = SelfManagement.NONE
            if ASSUME_POLICY_NAME in inline:
                keys = recognise_assume(inline[ASSUME_POLICY_NAME], arns_of)
                if keys is not None:
                    assume = keys
                    del inline[ASSUME_POLICY_NAME]
            if SELF_MANAGEMENT_POLICY_NAME in inline:
                found = recognise_self_management(inline[SELF_MANAGEMENT_POLICY_NAME])
                if found is not None:
                    mode = found
                    del inline[SELF_MANAGEMENT_POLICY_NAME]
            refs = tuple(sorted(by_arn.get(a, a) for a in g.attached))
            out[name] = Group(
                name=name,
                policies=refs,
                inline_policies=inline,
                assume=assume,
                self_management=mode,
                path=g.path,
            )
        return out

    # -- users ------------------------------------------------------------------------------------------
    def _users(
        self, acc: SourceAccount, people: str, project: str, groups: Mapping[str, Group]
    ) -> dict[str, User]:
        keys_dir = self.path.parent / "keys"
        out: dict[str, User] = {}
        for name, u in sorted(acc.state.users.items()):
            if not self._ours(u, project, people, "user", name):
                continue
            if self._too_many_tags(u.tags, people, f"user {name}"):
                self.adopt = [a for a in self.adopt if a != f"{people}/user/{name}"]
                continue
            foreign = sorted(g for g in u.groups if g not in groups)
            if foreign:
                self.findings.append(
                    ImportFinding(
                        "kept",
                        people,
                        f"user {name}: membership of {', '.join(foreign)}",
                        "groups not in the spec (owned by another project, or left out): the membership "
                        "stays as it is",
                    )
                )
            if u.attached or u.inline:
                self.findings.append(
                    ImportFinding(
                        "kept",
                        people,
                        f"user {name}: policies {', '.join(sorted([*u.attached, *u.inline]))}",
                        "iamlayer gives users permissions through groups only; the policies stay as they are",
                    )
                )
            key_file = self.src.user_keys.get(name)
            user = User(
                name=name,
                groups=tuple(g for g in sorted(u.groups) if g in groups),
                path=u.path,
                tags=_no_owner_tag(u.tags),
            )
            if key_file is None:
                out[name] = replace(user, keep_credentials=True)
                continue
            if u.login_profile is None or u.access_keys is None:
                raise IamlayerError(f"user {name}: the reader left its login profile or access keys unknown")
            out[name] = replace(
                user,
                pgp_key=(keys_dir / key_file).resolve(),
                console=u.login_profile,
                access_key=any(k.active for k in u.access_keys),
            )
            inactive = [k.id or "(id not read)" for k in u.access_keys if not k.active]
            if inactive and not out[name].access_key:
                self.findings.append(
                    ImportFinding(
                        "kept",
                        people,
                        f"user {name}: inactive access key(s) {', '.join(inactive)}",
                        "access_key: false leaves keys iamlayer did not issue as they are",
                    )
                )
        return out

    def _left_in_member_accounts(
        self, names: Mapping[str, str], people_id: str, project: str, ic: IdentityCenter | None
    ) -> None:
        for acc in self.accounts:
            if acc.id == people_id:
                continue
            where = names[acc.id]
            # The copies of the policies Identity Center's permission sets reference are the spec's.
            copies = set(ic.policies_in(where)) if ic is not None else set()
            for kind, kinds, found in (
                ("user", "users", acc.state.users),
                ("group", "groups", acc.state.groups),
                ("policy", "policies", acc.state.policies),
            ):
                mine = sorted(
                    n
                    for n, r in found.items()
                    if owner_of(r) in (None, project) and not (kind == "policy" and n in copies)
                )
                if mine:
                    self.findings.append(
                        ImportFinding(
                            "left_out",
                            where,
                            f"{len(mine)} {kind}(s): {', '.join(mine[:20])}"
                            + (" ..." if len(mine) > 20 else ""),
                            f"iamlayer keeps {kinds} in the people account ({names[people_id]}) only; "
                            "they stay as they are, never deleted"
                            + ("; roles attach them by ARN" if kind == "policy" else ""),
                        )
                    )


def _resources(state: AccountState) -> Sequence[Resource]:
    users: list[UserState] = list(state.users.values())
    groups: list[GroupState] = list(state.groups.values())
    roles: list[RoleState] = list(state.roles.values())
    policies: list[PolicyState] = list(state.policies.values())
    return [*users, *groups, *roles, *policies]
