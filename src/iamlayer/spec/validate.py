"""From a parsed YAML tree to a validated `Spec`, reporting every problem at once.

`build_spec` walks the tree section by section. Each section's names are collected first, so
references (user -> group, group -> role or policy, role -> account) are checked with a
did-you-mean whatever order the sections appear in. Wrong values are reported and replaced by
harmless placeholders so the walk continues; the caller raises when any error was reported, so a
`Spec` built from placeholders never escapes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from iamlayer.errors import KeyFileError
from iamlayer.kinds import default_quota, limit
from iamlayer.plan.model import Kind
from iamlayer.spec import policy_grammar as grammar
from iamlayer.spec.backend_validate import build_backend
from iamlayer.spec.ci_validate import build_ci
from iamlayer.spec.grants_validate import build_grants
from iamlayer.spec.ic_validate import build_identity_center, check_entitlements
from iamlayer.spec.model import (
    EVERY_ACCOUNT,
    PASSWORD_CLASSES,
    Account,
    Check,
    CliMode,
    Group,
    ManagedPolicy,
    PasswordPolicy,
    PolicyDocument,
    Role,
    SelfManagement,
    Spec,
    User,
    parse_role_ref,
)
from iamlayer.spec.nodes import Node, Reader, doc_path_suffix, to_plain
from iamlayer.spec.offboarded_validate import build_offboarded
from iamlayer.spec.organization import (
    ACTIVE,
    OU_PREFIX,
    AccountSelection,
    OrgView,
    SelectorMatch,
    UnitSelector,
    default_account_name,
    skipped_note,
)
from iamlayer.state.model import MAX_TAGS as STATE_MAX_TAGS
from iamlayer.state.model import OFFBOARDED_POLICY_NAME, OWNER_TAG

# --- fields of each mapping, in the order the scaffold documents them ---------------------------
TOP_FIELDS: Final = (
    "project", "project_long", "region", "accounts", "people_account", "management_account",
    "access_role", "password_policy", "policies", "roles", "groups", "users", "regions_in_use",
    "outputs_dir", "checks", "identity_center", "adopt", "backend", "grants", "ci", "offboarded",
)  # fmt: skip
ACCOUNT_FIELDS: Final = ("id", "alias", "password_policy", "profile")
#: `accounts: {organization: true}`: every ACTIVE account of the organization, at plan time
ORGANIZATION_FIELDS: Final = ("organization", "exclude", "names")
#: an OU selector written as a mapping: `{ou: Sandbox/Dev, recursive: false}`
UNIT_FIELDS: Final = ("ou", "recursive")
#: AWS: an OU name is 1-128 characters
OU_NAME_MAX: Final = 128
ACCOUNTS_RULE: Final = "account names, ou:<OU path from the root> (or: all)"
PASSWORD_POLICY_FIELDS: Final = (
    "minimum_length", "require", "allow_users_to_change", "max_age_days", "reuse_prevention", "hard_expiry",
)  # fmt: skip
POLICY_FIELDS: Final = ("description", "document", "path")
ROLE_FIELDS: Final = (
    "accounts", "trusted", "policies", "inline_policies", "mfa_max_age", "max_session_duration",
    "source_identity", "tag_session", "permissions_boundary", "description", "path", "tags",
    "trust_policy", "name", "exclude", "entitled",
)  # fmt: skip
#: what iamlayer renders into a role's trust policy: a verbatim `trust_policy:` replaces them all
TRUST_FIELDS: Final = ("trusted", "mfa_max_age", "source_identity", "tag_session")
GROUP_FIELDS: Final = ("policies", "inline_policies", "assume", "self_management", "path", "cli")
USER_FIELDS: Final = (
    "pgp_key", "groups", "console", "access_key", "password_reset_required", "path", "tags", "credentials",
    "cli",
)  # fmt: skip
CLI_CHOICES: Final = tuple(m.value for m in CliMode)
#: `credentials:` of a user: iamlayer manages the console password and access keys (the default),
#: or keeps what exists in AWS as it is, never creating, deleting or rotating anything
CREDENTIALS_CHOICES: Final = ("managed", "keep")
CHECK_FIELDS: Final = ("who", "can", "cannot", "on", "mfa", "mfa_age")
#: The fields of each kind of entry, as `Reader.named` names the kinds.
ENTRY_FIELDS: Final = {
    "account": ACCOUNT_FIELDS,
    "password policy": PASSWORD_POLICY_FIELDS,
    "policy": POLICY_FIELDS,
    "role": ROLE_FIELDS,
    "group": GROUP_FIELDS,
    "user": USER_FIELDS,
    "check": CHECK_FIELDS,
}
TRUSTED_CHOICES: Final = ("people", "management")
SELF_MANAGEMENT_CHOICES: Final = tuple(m.value for m in SelfManagement)

# --- IAM and AWS naming rules (re.ASCII: IAM's \w is [A-Za-z0-9_]); lengths are the kinds' quotas
_NAME_CHARS = r"[\w+=,.@-]"


def _iam_name(kind: Kind) -> re.Pattern[str]:
    return re.compile(f"{_NAME_CHARS}{{1,{limit(kind, 'name')}}}", re.ASCII)


USER_NAME: Final = _iam_name(Kind.USER)
ROLE_NAME: Final = _iam_name(Kind.ROLE)
GROUP_NAME: Final = _iam_name(Kind.GROUP)
POLICY_NAME: Final = _iam_name(Kind.POLICY)
#: the inline policies of a principal, by the principal's kind
INLINE_KIND: Final = {Kind.ROLE: Kind.ROLE_INLINE_POLICY, Kind.GROUP: Kind.GROUP_INLINE_POLICY}
NAME_RULE: Final = "IAM names use letters, digits and + = , . @ _ - ({} characters at most)"
# Every IAM kind with a path has the same quota; the user's stands for them all here, and each
# kind's own is checked against it in tests/unit/test_kinds.py.
PATH_MAX: Final = limit(Kind.USER, "path")
IAM_PATH: Final = re.compile(rf"/|/[\x21-\x7e]{{1,{PATH_MAX - 2}}}/")
PATH_RULE: Final = f"an IAM path is / or starts and ends with / (e.g. /people/), printable ASCII, {PATH_MAX} characters at most"
# The CreateAccountAlias pattern: no leading, trailing or doubled hyphen.
ALIAS_MAX: Final = limit(Kind.ACCOUNT_ALIAS, "length")
ALIAS: Final = re.compile(rf"[a-z0-9](?:[a-z0-9]|-(?!-)){{1,{ALIAS_MAX - 2}}}[a-z0-9]")
ALIAS_RULE: Final = f"an account alias is 3-{ALIAS_MAX} characters of a-z, 0-9 and -, not starting or ending with - (and no --)"
PROJECT: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
PROJECT_RULE: Final = "a short name of a-z, 0-9 and - (at most 32 characters, no leading or trailing -)"
ACCOUNT_ID: Final = re.compile(r"\d{12}")
# Account names become parts of profile names and of folders under outputs_dir.
ACCOUNT_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
ACCOUNT_NAME_RULE: Final = (
    "letters, digits, _ . and -, starting with a letter or digit (63 characters at most)"
)
REGION: Final = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
REGION_RULE: Final = "an AWS region name such as us-east-1 or eu-west-2"
POLICY_ARN: Final = re.compile(r"arn:aws(?:-[a-z]+)*:iam::(?:aws|\d{12}):policy/[\w+=,.@/-]+", re.ASCII)
POLICY_ARN_RULE: Final = "a managed policy ARN such as arn:aws:iam::aws:policy/ReadOnlyAccess"
TAG_KEY: Final = re.compile(r"[\w\s+=.:/@-]{1,128}")
TAG_VALUE: Final = re.compile(r"[\w\s+=.:/@-]{0,256}")
# A request's action, as checks name it: service:Action, no wildcards.
CHECK_ACTION: Final = re.compile(r"[a-z0-9][a-z0-9-]*:[A-Za-z0-9]+", re.ASCII)
CHECK_ON_RULE: Final = (
    'an ARN, "*" (every resource), or role/<name>@<account> (role/<name>@* for every account)'
)
MAX_GROUPS_PER_USER: Final = limit(Kind.USER, "groups")
MAX_TAGS: Final = STATE_MAX_TAGS  # IAM's limit per user or role, which includes iamlayer's own ownership tag
DEFAULT_REGION: Final = "us-east-1"
DEFAULT_ACCESS_ROLE: Final = "OrganizationAccountAccessRole"


def _roles_named(roles: Mapping[str, Role], name: str) -> list[Role]:
    """The roles a check's `role/<name>@...` means: by spec key, or by IAM name (`name:`)."""
    if name in roles:
        return [roles[name]]
    return [r for r in roles.values() if r.name == name]


def _missing_key_hint(rel: str) -> str:
    armored = f"gpg --export --armor NAME > {rel}"
    return f"add it with: gpg --export NAME | base64 > {rel} (or an armored export: {armored})"


@dataclass
class _Names:
    """Names defined in each section, known before any reference is checked."""

    accounts: list[str]
    policies: list[str]
    roles: list[str]
    groups: list[str]


def _is_organization_block(node: Node | None) -> bool:
    """`accounts: {organization: ...}`: the accounts come from the organization (an account
    named `organization` is a mapping of its settings, never a boolean)."""
    return (
        node is not None
        and isinstance(node.value, Mapping)
        and isinstance(node.value.get("organization"), bool)
    )


def _keys(top: dict[str, Node], section: str) -> list[str]:
    node = top.get(section)
    if node is None or not isinstance(node.value, Mapping):
        return []
    return [k for k in node.value if isinstance(k, str)]


class SpecBuilder:
    """One validation run over one spec file."""

    def __init__(
        self, reader: Reader, spec_path: Path, *, check_keys: bool, org: OrgView | None = None
    ) -> None:
        self.r = reader
        #: the organization OU selectors and `organization: true` are resolved against; None
        #: offline (validate), where only their syntax is checked
        self.org = org
        self.org_mode = False  # `accounts: {organization: true}`
        self.unresolved = False  # something needs the organization, which is not known here
        self.selections: list[SelectorMatch] = []
        self._ids: dict[str, str] = {}  # account id -> name, the layer's accounts
        self._org_names: dict[str, str] = {}  # account id -> name, every account of the organization
        self.spec_path = spec_path.resolve()
        self.root = self.spec_path.parent
        self.check_keys = check_keys
        self._key_errors: dict[Path, str | None] = {}
        self._key_files: dict[str, tuple[Path, str]] = {}
        self._rfc9580_keys: set[Path] = set()
        self._secret_keys: dict[str, Path] | None = None  # fingerprint -> secret key file in the layer
        self._group_cli: dict[str, CliMode] = {}  # groups' `cli:`, for their members without one

    # --- top level ------------------------------------------------------------------------------

    def build(self, doc: Node) -> Spec | None:
        top = self.r.fields(doc, TOP_FIELDS, required=("project", "accounts"), what="the spec")
        if top is None:
            return None
        names = _Names(*(_keys(top, s) for s in ("accounts", "policies", "roles", "groups")))
        self.org_mode = _is_organization_block(top.get("accounts"))

        def string(key: str, default: str, pattern: re.Pattern[str] | None = None, rule: str = "") -> str:
            node = top.get(key)
            return (self.r.string(node, pattern=pattern, rule=rule) if node is not None else None) or default

        project = string("project", "", PROJECT, PROJECT_RULE)
        project_long = string("project_long", project)
        region = string("region", DEFAULT_REGION, REGION, REGION_RULE)
        access_role = string(
            "access_role", DEFAULT_ACCESS_ROLE, ROLE_NAME, NAME_RULE.format(limit(Kind.ROLE, "name"))
        )
        default_pw = self._password_fields(top["password_policy"]) if "password_policy" in top else None

        if self.org_mode:
            accounts = self._organization_accounts(top["accounts"], project_long, default_pw)
            names.accounts = list(accounts)
        else:
            accounts = self._accounts(top.get("accounts"), project_long, default_pw)
        self._ids = {a.id: n for n, a in accounts.items() if a.id}
        people = self._people_account(top, doc, names.accounts)
        management = self._management_account(top, names.accounts)

        policies = self._policies(top["policies"]) if "policies" in top else {}
        roles = self._roles(top["roles"], names, people, management) if "roles" in top else {}
        groups = self._groups(top["groups"], names, policies) if "groups" in top else {}
        self._group_cli = {g.name: g.cli for g in groups.values() if g.cli is not None}
        users = self._users(top["users"], names) if "users" in top else {}

        regions: tuple[str, ...] = (region,)
        if "regions_in_use" in top:
            listed = [self._region(n) for n in self.r.items(top["regions_in_use"], "region names")]
            regions = tuple(r for r in listed if r) or (region,)
        outputs_dir = self.root / "outputs"
        if "outputs_dir" in top:
            out = self.r.string(top["outputs_dir"])
            outputs_dir = (self.root / out).resolve() if out else outputs_dir

        checks = (
            self._checks(top["checks"], names, roles, accounts, _keys(top, "users"))
            if "checks" in top
            else ()
        )
        adopt = bool(self.r.boolean(top["adopt"])) if "adopt" in top else False

        identity_center = (
            build_identity_center(self, top["identity_center"], names.accounts, policies, region, management)
            if "identity_center" in top
            else None
        )
        if "roles" in top:
            roles = check_entitlements(self, top["roles"], roles, identity_center)

        backend = (
            build_backend(self, top["backend"], names.accounts, people, region) if "backend" in top else None
        )
        grants = (
            build_grants(self, top["grants"], _keys(top, "users"), roles, names.accounts)
            if "grants" in top
            else ()
        )
        ci = build_ci(self, top["ci"], names.accounts, people, roles) if "ci" in top else ()
        offboarded = (
            build_offboarded(self, top["offboarded"], roles, identity_center) if "offboarded" in top else ()
        )
        if self.r.has_errors:
            return None
        return Spec(
            path=self.spec_path, project=project, project_long=project_long, region=region,
            accounts=accounts, people_account=people or "", management_account=management,
            access_role=access_role, policies=policies, roles=roles, groups=groups, users=users,
            regions_in_use=regions, outputs_dir=outputs_dir, checks=checks,
            identity_center=identity_center, adopt=adopt, backend=backend, grants=grants, ci=ci,
            offboarded=offboarded,
            accounts_from_organization=self.org_mode, unresolved=self.unresolved,
            organization=self.org if (self.org_mode or self.selections) else None,
            selections=tuple(self.selections), source_tree=doc,
        )  # fmt: skip

    def _region(self, node: Node) -> str | None:
        return self.r.string(node, pattern=REGION, rule=REGION_RULE)

    # --- accounts -------------------------------------------------------------------------------

    def _accounts(
        self, node: Node | None, project_long: str, default_pw: dict[str, Any] | None
    ) -> dict[str, Account]:
        if node is None:
            return {}
        entries = self.r.named(node, "account")
        if not entries and (node.value is None or isinstance(node.value, Mapping)):
            self.r.error(
                node, "at least one account is required", 'e.g. accounts: {security: {id: "222222222222"}}'
            )
        accounts: dict[str, Account] = {}
        ids: dict[str, str] = {}
        aliases: dict[str, str] = {}
        for name, acct in entries:
            if not ACCOUNT_NAME.fullmatch(name):
                self.r.error(acct, f"invalid account name {name!r}", ACCOUNT_NAME_RULE)
            f = self.r.fields(acct, ACCOUNT_FIELDS, required=("id",), what=f"account {name}")
            if f is None:
                continue
            account_id = self._account_id(f["id"]) if "id" in f else None
            if account_id is not None:
                if account_id in ids:
                    self.r.error(
                        f["id"],
                        f"account id {account_id} is also used by account {ids[account_id]!r}",
                        "account ids must be unique",
                    )
                ids.setdefault(account_id, name)
            alias = self._alias(f.get("alias"), acct, name, project_long)
            if alias is not None:
                if alias in aliases:
                    self.r.error(
                        f.get("alias", acct),
                        f"alias {alias!r} is also the alias of account {aliases[alias]!r}",
                        "account aliases are unique across all of AWS",
                    )
                aliases.setdefault(alias, name)
            pw = self._account_password_policy(f.get("password_policy"), default_pw)
            profile = self.r.string(f["profile"]) if "profile" in f else None
            accounts[name] = Account(
                name=name, id=account_id or "", alias=alias, password_policy=pw, profile=profile
            )
        return accounts

    # --- accounts chosen by the organization (iamlayer.spec.organization) ------------------------

    @property
    def open_accounts(self) -> bool:
        """Account names cannot all be known yet: they come from an organization not read here."""
        return self.org_mode and self.org is None

    def _organization_accounts(
        self, node: Node, project_long: str, default_pw: dict[str, Any] | None
    ) -> dict[str, Account]:
        """`accounts: {organization: true, exclude: [...], names: {name: id}}`: every ACTIVE
        account of the organization, named as `accounts discover` names them unless `names:` says
        otherwise. Offline, only the accounts `names:` names are known."""
        f = self.r.fields(node, ORGANIZATION_FIELDS, what="accounts")
        if f is None:
            return {}
        if f["organization"].value is not True:
            self.r.error(
                f["organization"],
                "organization: must be true (every ACTIVE account of the organization)",
                'or list the accounts: accounts: {security: {id: "222222222222"}}',
            )
        overrides: dict[str, str] = {}
        for name, child in self.r.named(f["names"], "account") if "names" in f else []:
            if not ACCOUNT_NAME.fullmatch(name):
                self.r.error(child, f"invalid account name {name!r}", ACCOUNT_NAME_RULE)
            account_id = self._account_id(child)
            if account_id in overrides:
                self.r.error(
                    child, f"account {account_id} is also named {overrides[account_id]!r} under names:"
                )
            elif account_id:
                overrides[account_id] = name
        pw = self._account_password_policy(None, default_pw)

        def account(account_id: str, name: str) -> Account:
            alias = f"{project_long}-{name}"
            return Account(
                name=name, id=account_id, alias=alias if ALIAS.fullmatch(alias) else None, password_policy=pw
            )

        if self.org is None:
            self.unresolved = True
            return {name: account(i, name) for i, name in overrides.items()}
        named = {
            m.id: overrides.get(m.id) or default_account_name(m.name, project_long) for m in self.org.members
        }
        self._org_names = named
        excluded: set[str] = set()
        for item in self.r.items(f["exclude"], "account names or ids") if "exclude" in f else []:
            value = self.r.string(item)
            if value is None:
                continue
            hit = value if value in named else next((i for i, n in named.items() if n == value), None)
            if hit is None:
                guess = grammar.did_you_mean(value, list(named.values()))
                self.r.error(
                    item,
                    f"no account {value!r} in the organization",
                    f"did you mean {guess!r}?" if guess else "name an account of the organization, or its id",
                )
            else:
                excluded.add(hit)
        for account_id in overrides:
            if self.org.member(account_id) is None:
                self.r.error(
                    f["names"], f"account {account_id} under names: is not in the organization {self.org.id}"
                )
        out: dict[str, Account] = {}
        skipped: list[str] = []
        for m in self.org.members:
            name = named[m.id]
            if m.status != ACTIVE:
                skipped.append(skipped_note(m, name, m.status))
            elif m.id in excluded:
                skipped.append(skipped_note(m, name, "excluded"))
            elif not ACCOUNT_NAME.fullmatch(name) or name in out:
                why = "is also the name of another account" if name in out else "is not a usable account name"
                self.r.error(
                    node,
                    f"account {m.name!r} ({m.id}) of the organization: {name!r} {why}",
                    f'name it under accounts.names, e.g. names: {{my-name: "{m.id}"}} ({ACCOUNT_NAME_RULE})',
                )
            else:
                out[name] = account(m.id, name)
        self.selections.append(
            SelectorMatch("accounts", node.line, "organization: true", tuple(out), tuple(skipped))
        )
        return out

    def account_ref(self, node: Node, names: Sequence[str]) -> str | None:
        """An account name of the layer. While the accounts come from an organization that is not
        read yet (validate), a well-formed name that is not known is accepted, and checked at plan
        time (None here)."""
        value = node.value
        if (
            self.open_accounts
            and isinstance(value, str)
            and value not in names
            and ACCOUNT_NAME.fullmatch(value)
        ):
            return None
        return self.r.reference(node, names, "account", "accounts")

    def account_list(
        self, f: dict[str, Node], names: Sequence[str]
    ) -> tuple[tuple[str, ...], AccountSelection | None]:
        """The accounts of an entry with `accounts:` (names, `ou:` selectors, or `all`; all when
        absent) and `exclude:`, and how they were chosen when the organization chose them."""
        node = f.get("accounts")
        every = node is None or node.value == "all"
        listed: list[str] = []
        chosen: list[str] = list(names) if every else []
        units: list[UnitSelector] = []
        for item in [] if every or node is None else self.r.items(node, ACCOUNTS_RULE):
            if isinstance(item.value, Mapping) or (
                isinstance(item.value, str) and item.value.startswith(OU_PREFIX)
            ):
                unit = self._unit_selector(item)
                if unit is not None:
                    units.append(unit)
                    chosen += self._unit_members(unit, item)
                continue
            name = self.account_ref(item, names)
            if name:
                listed.append(name)
                chosen.append(name)
        excluded: set[str] = set()
        for item in self.r.items(f["exclude"], "account names") if "exclude" in f else []:
            if item.value in names:
                excluded.add(item.value)
            # an account of the organization the layer leaves out (excluded, closed) may be named
            elif item.value not in self._org_names.values():
                self.account_ref(item, names)
        accounts = tuple(a for a in dict.fromkeys(chosen) if a not in excluded)
        if units or (every and self.org_mode):
            return accounts, AccountSelection(
                every=every and self.org_mode, units=tuple(units), names=tuple(listed)
            )
        return accounts, None

    def _unit_selector(self, item: Node) -> UnitSelector | None:
        """`ou:Sandbox/Dev`, or `{ou: Sandbox/Dev, recursive: false}`: an OU path from the root."""
        recursive = True
        if isinstance(item.value, Mapping):
            uf = self.r.fields(item, UNIT_FIELDS, required=("ou",), what="an OU selector")
            if uf is None or "ou" not in uf:
                return None
            text = self.r.string(uf["ou"])
            if "recursive" in uf:
                recursive = bool(self.r.boolean(uf["recursive"]))
        else:
            text = str(item.value)[len(OU_PREFIX) :]
        path = (text or "").strip().strip("/")
        parts = path.split("/")
        if not path or any(not p.strip() or len(p) > OU_NAME_MAX for p in parts):
            self.r.error(
                item,
                f"invalid OU selector {item.value!r}",
                "ou:<OU names from the root, separated by />, e.g. ou:Workloads or ou:Sandbox/Dev "
                f"(each name 1-{OU_NAME_MAX} characters)",
            )
            return None
        return UnitSelector("/".join(p.strip() for p in parts), recursive)

    def _unit_members(self, unit: UnitSelector, item: Node) -> list[str]:
        """The layer's accounts in the OU (recorded for the plan); offline, none yet."""
        if self.org is None:
            self.unresolved = True
            return []
        ou = self.org.unit(unit.path)
        if ou is None:
            known = self.org.unit_paths()
            guess = grammar.did_you_mean(unit.path, known)
            self.r.error(
                item,
                f"no organizational unit {unit.path!r} in the organization {self.org.id}",
                f"did you mean 'ou:{guess}'?"
                if guess
                else (
                    "OUs: " + ", ".join(known[:30]) + (" ..." if len(known) > 30 else "")
                    if known
                    else "the organization has no OU"
                ),
            )
            return []
        matched: list[str] = []
        skipped: list[str] = []
        for m in self.org.members_of(ou, recursive=unit.recursive):
            name = self._ids.get(m.id)
            if m.status != ACTIVE:
                skipped.append(skipped_note(m, name or self._org_names.get(m.id), m.status))
            elif name is None:
                skipped.append(skipped_note(m, name, "not an account of the layer"))
            else:
                matched.append(name)
        self.selections.append(SelectorMatch(item.path, item.line, unit.text, tuple(matched), tuple(skipped)))
        return matched

    def _account_id(self, node: Node) -> str | None:
        value = node.value
        hint = 'write the 12-digit id in quotes, e.g. id: "012345678901"'
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.r.error(node, f"an account id must be 12 digits, got {grammar.type_name(value)}", hint)
            return None
        if isinstance(value, int):
            # ruamel remembers the written width of an unquoted integer, so 012345678901 read
            # as an int can get its leading zero back; any other short number is a typo.
            width = getattr(value, "_width", None) or 0
            text = str(int(value)).zfill(width) if width else str(int(value))
        else:
            text = str(value)
        if not ACCOUNT_ID.fullmatch(text):
            self.r.error(
                node, f"an account id is exactly 12 digits, got {text!r} ({len(text)} characters)", hint
            )
            return None
        return text

    def _alias(self, node: Node | None, acct: Node, name: str, project_long: str) -> str | None:
        if node is None:
            alias = f"{project_long}-{name}"
            if project_long and not ALIAS.fullmatch(alias):
                self.r.error(
                    acct,
                    f"the default alias {alias!r} (<project_long>-<account>) is not a valid account alias",
                    f"{ALIAS_RULE}; set alias: explicitly, or alias: false to leave it alone",
                )
                return None
            return alias
        if node.value is False:
            return None
        if node.value is True:
            self.r.error(node, "alias must be a string, or false to leave the alias alone")
            return None
        return self.r.string(node, pattern=ALIAS, rule=ALIAS_RULE)

    def _password_fields(self, node: Node) -> dict[str, Any] | None:
        """The fields set in a password_policy mapping, validated (None when not a mapping)."""
        f = self.r.fields(node, PASSWORD_POLICY_FIELDS, what="password_policy")
        if f is None:
            return None
        out: dict[str, Any] = {}
        if "minimum_length" in f:
            out["minimum_length"] = self.r.integer(
                f["minimum_length"], 6, limit(Kind.PASSWORD_POLICY, "minimum_length")
            )
        if "require" in f:
            classes: list[str] = []
            for item in self.r.items(f["require"], "character classes"):
                cls = self.r.choice(item, PASSWORD_CLASSES)
                if cls:
                    classes.append(cls)
            out["require"] = frozenset(classes)
        if "allow_users_to_change" in f:
            out["allow_users_to_change"] = self.r.boolean(f["allow_users_to_change"])
        if "hard_expiry" in f:
            out["hard_expiry"] = self.r.boolean(f["hard_expiry"])
        for key in ("max_age_days", "reuse_prevention"):
            if key in f:
                high = limit(Kind.PASSWORD_POLICY, key)
                out[key] = None if f[key].value is None else self.r.integer(f[key], 1, high)
        # A wrong value was reported; drop it so building the policy still works.
        return {k: v for k, v in out.items() if v is not None or k in ("max_age_days", "reuse_prevention")}

    def _account_password_policy(
        self, node: Node | None, default: dict[str, Any] | None
    ) -> PasswordPolicy | None:
        if node is None:
            return PasswordPolicy(**default) if default is not None else None
        if node.value is False:
            return None
        own = self._password_fields(node)
        return PasswordPolicy(**{**(default or {}), **(own or {})})

    def _people_account(self, top: dict[str, Node], doc: Node, accounts: list[str]) -> str | None:
        if "people_account" in top:
            return self.r.reference(top["people_account"], accounts, "account", "accounts")
        if len(accounts) == 1:
            return accounts[0]
        if accounts:
            self.r.error(
                doc,
                "people_account is required when there are several accounts",
                f"the account where IAM users and groups live, one of: {', '.join(accounts)}",
                path="people_account",
            )
        return None

    def _management_account(self, top: dict[str, Node], accounts: list[str]) -> str | None:
        if "management_account" in top:
            return self.r.reference(top["management_account"], accounts, "account", "accounts")
        return "management" if "management" in accounts else None

    # --- names ----------------------------------------------------------------------------------

    def _name(self, name: str, node: Node, kind: Kind, what: str) -> None:
        if not _iam_name(kind).fullmatch(name):
            self.r.error(node, f"invalid {what} name {name!r}", NAME_RULE.format(limit(kind, "name")))

    def _managed_count(self, f: dict[str, Node], kind: Kind, refs: tuple[str, ...], what: str) -> None:
        """At most the quota's maximum of managed policies (lint warns past its default)."""
        most = limit(kind, "managed_policies")
        if len(refs) > most:
            self.r.error(
                f["policies"],
                f"{what} attaches {len(refs)} managed policies; IAM allows at most {most} per "
                f"{kind.value} (the default quota of {default_quota(kind, 'managed_policies')} raised "
                "to its maximum)",
                "merge policies, or move statements to inline policies",
            )

    def _unique_ci(self, entries: list[tuple[str, Node]], what: str) -> None:
        seen: dict[str, tuple[str, Node]] = {}
        for name, node in entries:
            first = seen.setdefault(name.lower(), (name, node))
            if first[0] != name:
                self.r.error(
                    node,
                    f"{what} {name!r} differs from {first[0]!r} (line {first[1].line}) only in case",
                    "IAM names are unique case-insensitively",
                )

    def _path(self, fields: dict[str, Node]) -> str:
        if "path" not in fields:
            return "/"
        return self.r.string(fields["path"], pattern=IAM_PATH, rule=PATH_RULE) or "/"

    def _description(self, fields: dict[str, Node], kind: Kind) -> str:
        if "description" not in fields:
            return ""
        node = fields["description"]
        text = self.r.string(node) or ""
        most = limit(kind, "description")
        if len(text) > most:
            self.r.error(node, f"description is {len(text)} characters; IAM allows {most}")
        return text

    def _tags(self, fields: dict[str, Node]) -> dict[str, str]:
        node = fields.get("tags")
        if node is None or node.value is None:
            return {}
        if not isinstance(node.value, Mapping):
            self.r.error(node, f"tags must be a mapping of key to value, got {grammar.type_name(node.value)}")
            return {}
        tags: dict[str, str] = {}
        for key in node.value:
            child = self.r.seen(node.child(key))
            value = child.value
            if not isinstance(key, str) or not TAG_KEY.fullmatch(key) or key.lower().startswith("aws:"):
                self.r.error(
                    child,
                    f"invalid tag key {key!r}",
                    "1-128 letters, digits, spaces and + - = . _ : / @, not starting with aws:",
                )
                continue
            if isinstance(value, bool) or not isinstance(value, str | int):
                self.r.error(child, f"tag {key!r} must have a string value, got {grammar.type_name(value)}")
                continue
            if not TAG_VALUE.fullmatch(str(value)):
                self.r.error(
                    child, f"invalid tag value {value!r}", "0-256 letters, digits, spaces and + - = . _ : / @"
                )
                continue
            tags[key] = str(value)
        # iamlayer adds its ownership tag to every user and role it makes: one of IAM's 50 is taken.
        own = len({k for k in tags if k != OWNER_TAG})
        if own > MAX_TAGS - 1:
            self.r.error(
                node,
                f"{own} tags; IAM allows {MAX_TAGS} per user or role and iamlayer adds its ownership tag "
                f"{OWNER_TAG}, so at most {MAX_TAGS - 1} here",
            )
        return tags

    def _policy_arns(self, node: Node, spec_policies: list[str] | None) -> tuple[str, ...]:
        """Managed policy references: ARNs, or (when spec_policies is given) spec policy names."""
        refs: list[str] = []
        for item in self.r.items(node, "policy ARNs"):
            value = self.r.string(item)
            if value is None:
                continue
            if value in refs:
                self.r.error(item, f"policy {value!r} is listed twice")
                continue
            if value.startswith("arn:"):
                if POLICY_ARN.fullmatch(value):
                    refs.append(value)
                else:
                    self.r.error(item, f"invalid policy ARN {value!r}", POLICY_ARN_RULE)
            elif spec_policies is None:
                self.r.error(
                    item,
                    f"{value!r} is not a policy ARN",
                    "roles live in every account and can only attach managed policies by ARN; "
                    "spec policies exist in the people account only (use inline_policies)",
                )
            elif value in spec_policies:
                refs.append(value)
            else:
                guess = grammar.did_you_mean(value, spec_policies)
                hint = (
                    f"did you mean {guess!r}?"
                    if guess
                    else "a group policy is an ARN (arn:aws:iam::aws:policy/...) "
                    "or the name of a policy under policies:"
                )
                self.r.error(item, f"unknown policy {value!r}", hint)
        return tuple(refs)

    # --- policy documents -----------------------------------------------------------------------

    def _document(self, node: Node, *, managed: bool = False, trust: bool = False) -> PolicyDocument | None:
        """A policy document: an inline mapping, or a path to a JSON file next to the spec.

        `managed` documents are checked as CreatePolicy checks them; `trust` documents are a
        role's trust policy (a resource policy: Principal, no Resource).
        """
        value = node.value
        source = ""
        duplicates: tuple[tuple[grammar.DocPath, int], ...] = ()
        if isinstance(value, str):
            file = (self.root / value).resolve()
            source = f" (in {value})"
            if not file.is_file():
                self.r.error(
                    node,
                    f"policy document file {value!r} not found",
                    f"looked for {file}; paths are relative to the spec's folder",
                )
                return None
            try:
                loaded = grammar.load_policy_json(file.read_text(encoding="utf-8"))
                doc: Any = loaded.document
                duplicates = loaded.duplicates
            except (OSError, UnicodeDecodeError) as e:
                self.r.error(node, f"cannot read policy document file {value!r}: {e}")
                return None
            except json.JSONDecodeError as e:
                self.r.error(
                    node,
                    f"policy document file {value!r} is not valid JSON: {e.msg} "
                    f"(line {e.lineno}, column {e.colno})",
                )
                return None
            located = Node(doc, node.path, node.line)
        elif isinstance(value, Mapping):
            doc = to_plain(value)
            located = node
            self.r.record_tree(node)
        else:
            self.r.error(
                node,
                f"a policy document must be a mapping or a path to a JSON file, "
                f"got {grammar.type_name(value)}",
            )
            return None
        problems = grammar.check_policy_document(doc, managed=managed, trust=trust)
        for at, line in duplicates:
            self.r.error(
                node,
                f"duplicate key {at[-1]!r} at line {line}{source}: JSON keeps only the last value, silently",
                "a key may appear only once in a mapping: merge the two",
                path=node.path + doc_path_suffix(at),
            )
        for p in problems:
            self.r.error(
                node,
                p.message + source,
                p.hint,
                path=node.path + doc_path_suffix(p.path),
                line=located.line_at(p.path),
            )
        return None if problems or duplicates else doc  # type: ignore[no-any-return]

    def _flag(self, fields: dict[str, Node], key: str, default: bool) -> bool:
        if key not in fields:
            return default
        value = self.r.boolean(fields[key])
        return default if value is None else value

    def _inline_of(self, fields: dict[str, Node], kind: Kind) -> dict[str, PolicyDocument]:
        if "inline_policies" not in fields:
            return {}
        return self._inline_policies(fields["inline_policies"], kind)

    def _inline_policies(self, node: Node, kind: Kind) -> dict[str, PolicyDocument]:
        """The inline policies of a principal of `kind` (role or group), within its quota."""
        most, owner = limit(kind, "inline_policies"), kind.value
        docs: dict[str, PolicyDocument] = {}
        sizes: list[tuple[Node, int]] = []
        for name, child in self.r.named(node, "inline policy"):
            self._name(name, child, INLINE_KIND[kind], "inline policy")
            if kind is Kind.ROLE and name == OFFBOARDED_POLICY_NAME:
                self.r.error(
                    child,
                    f"inline policy name {name!r} is iamlayer's (the Deny of the sessions of people who left)",
                    "give the policy another name",
                )
            doc = self._document(child)
            if doc is not None:
                docs[name] = doc
                sizes.append((child, grammar.policy_size(doc)))
        self._unique_ci(self.r.named(node, "inline policy"), "inline policy")
        total = sum(size for _, size in sizes)
        for child, size in sizes:
            if size > most:
                self.r.error(
                    child,
                    f"policy document is {size:,} characters; IAM allows {most:,} "
                    f"for all inline policies of a {owner} together (whitespace not counted)",
                    "move statements to a managed policy",
                )
        if total > most and all(size <= most for _, size in sizes):
            self.r.error(
                node,
                f"inline policies total {total:,} characters; IAM allows {most:,} per {owner} "
                "(whitespace not counted)",
                "move some of them to managed policies",
            )
        return docs

    # --- sections -------------------------------------------------------------------------------

    def _policies(self, node: Node) -> dict[str, ManagedPolicy]:
        entries = self.r.named(node, "policy")
        self._unique_ci(entries, "policy")
        out: dict[str, ManagedPolicy] = {}
        for name, pnode in entries:
            self._name(name, pnode, Kind.POLICY, "policy")
            f = self.r.fields(pnode, POLICY_FIELDS, required=("document",), what=f"policy {name}")
            if f is None:
                continue
            doc = self._document(f["document"], managed=True) if "document" in f else None
            if doc is not None:
                size = grammar.policy_size(doc)
                if size > grammar.MANAGED_POLICY_LIMIT:
                    self.r.error(
                        f["document"],
                        f"policy document is {size:,} characters; IAM allows "
                        f"{grammar.MANAGED_POLICY_LIMIT:,} for a managed policy "
                        "(whitespace not counted)",
                        "split it into several policies",
                    )
            out[name] = ManagedPolicy(
                name=name,
                document=doc or {},
                description=self._description(f, Kind.POLICY),
                path=self._path(f),
            )
        return out

    def _roles(
        self, node: Node, names: _Names, people: str | None, management: str | None
    ) -> dict[str, Role]:
        entries = self.r.named(node, "role")
        self._unique_ci(entries, "role")
        out: dict[str, Role] = {}
        for name, rnode in entries:
            self._name(name, rnode, Kind.ROLE, "role")
            f = self.r.fields(rnode, ROLE_FIELDS, what=f"role {name}") if rnode.value is not None else {}
            if f is None:
                continue
            iam_name = name
            if "name" in f:
                iam_name = (
                    self.r.string(
                        f["name"], pattern=ROLE_NAME, rule=NAME_RULE.format(limit(Kind.ROLE, "name"))
                    )
                    or name
                )
            accounts, selection = self.account_list(f, names.accounts)
            trusted = "people"
            if "trusted" in f:
                trusted = self.r.choice(f["trusted"], TRUSTED_CHOICES) or "people"
            trusted_account = people or ""
            if trusted == "management":
                if management is None:
                    self.r.error(
                        f["trusted"],
                        "trusted: management needs a management account",
                        "name an account `management`, or set management_account:",
                    )
                trusted_account = management or ""
            max_session = 3600
            if "max_session_duration" in f:
                max_session = self.r.integer(f["max_session_duration"], 3600, 43200) or 3600
            mfa_max_age = self.r.integer(f["mfa_max_age"], 1) if "mfa_max_age" in f else None
            boundary = None
            if "permissions_boundary" in f:
                boundary = self.r.string(f["permissions_boundary"], pattern=POLICY_ARN, rule=POLICY_ARN_RULE)
            trust_doc = self._trust_policy(f, name)
            policies = self._policy_arns(f["policies"], None) if "policies" in f else ()
            self._managed_count(f, Kind.ROLE, policies, f"role {name}")
            out[name] = Role(
                name=iam_name, accounts=accounts, trusted_account=trusted_account, trust_policy=trust_doc,
                policies=policies, inline_policies=self._inline_of(f, Kind.ROLE),
                mfa_max_age=mfa_max_age, max_session_duration=max_session,
                source_identity=self._flag(f, "source_identity", False),
                tag_session=self._flag(f, "tag_session", False),
                permissions_boundary=boundary, description=self._description(f, Kind.ROLE), path=self._path(f),
                tags=self._tags(f), selection=selection,
                # checked against identity_center: once it is read (check_entitlements)
                entitled=tuple(str(i.value) for i in self.r.items(f["entitled"], "group/<name> or user/<name>"))
                if "entitled" in f
                else (),
            )  # fmt: skip
        self._one_role_per_name(entries, out)
        return out

    def _trust_policy(self, f: dict[str, Node], role: str) -> PolicyDocument | None:
        """A verbatim `trust_policy:`, which replaces what iamlayer would render from the fields
        that shape a trust policy (so those cannot be set beside it)."""
        if "trust_policy" not in f:
            return None
        for key in TRUST_FIELDS:
            if key in f:
                self.r.error(
                    f[key],
                    f"role {role} has a trust_policy, so {key} has no effect",
                    f"remove {key}:, or remove trust_policy: to let iamlayer write the trust policy "
                    "(trusted, mfa_max_age, source_identity, tag_session)",
                )
        return self._document(f["trust_policy"], trust=True)

    def _one_role_per_name(self, entries: list[tuple[str, Node]], roles: Mapping[str, Role]) -> None:
        """Two roles may share an IAM name (`name:`) only in different accounts."""
        where: dict[tuple[str, str], str] = {}  # (lowercased IAM name, account) -> spec key
        for key, node in entries:
            role = roles.get(key)
            if role is None:
                continue
            for account in role.accounts:
                first = where.setdefault((role.name.lower(), account), key)
                if first != key:
                    self.r.error(
                        node,
                        f"roles {first} and {key} are both IAM role {role.name} in account {account}",
                        "a role name is unique in an account: give them different accounts, or merge them",
                    )

    def _groups(self, node: Node, names: _Names, policies: Mapping[str, ManagedPolicy]) -> dict[str, Group]:
        entries = self.r.named(node, "group")
        self._unique_ci(entries, "group")
        out: dict[str, Group] = {}
        for name, gnode in entries:
            self._name(name, gnode, Kind.GROUP, "group")
            f = self.r.fields(gnode, GROUP_FIELDS, what=f"group {name}") if gnode.value is not None else {}
            if f is None:
                continue
            assume: list[str] = []
            if "assume" in f:
                for item in self.r.items(f["assume"], "role names"):
                    role = self.r.reference(item, names.roles, "role", "roles")
                    if role:
                        assume.append(role)
            mode = SelfManagement.NONE
            if "self_management" in f:
                chosen = self.r.choice(f["self_management"], SELF_MANAGEMENT_CHOICES)
                mode = SelfManagement(chosen) if chosen else mode
            refs = self._policy_arns(f["policies"], names.policies) if "policies" in f else ()
            self._managed_count(f, Kind.GROUP, refs, f"group {name}")
            out[name] = Group(
                name=name,
                policies=refs,
                inline_policies=self._inline_of(f, Kind.GROUP),
                assume=tuple(dict.fromkeys(assume)), self_management=mode, path=self._path(f),
                cli=self._cli(f),
            )  # fmt: skip
        return out

    def _cli(self, f: dict[str, Node]) -> CliMode | None:
        """`cli: login | key | sso` of a user or group (None: not set, or wrong and reported)."""
        chosen = self.r.choice(f["cli"], CLI_CHOICES) if "cli" in f else None
        return CliMode(chosen) if chosen else None

    def _cli_agrees(self, name: str, unode: Node, groups: list[str], cli: CliMode | None) -> None:
        """A user without `cli:` of their own takes their groups': they must not disagree."""
        if cli is not None or not isinstance(unode.value, Mapping):
            return
        modes = {m: g for g in groups if (m := self._group_cli.get(g)) is not None}
        if len(modes) > 1:
            said = ", ".join(f"{g}: {m.value}" for m, g in modes.items())
            self.r.error(
                unode,
                f"user {name}'s groups ask for different cli: modes ({said})",
                f"set cli: on the user ({', '.join(CLI_CHOICES)})",
            )

    def _users(self, node: Node, names: _Names) -> dict[str, User]:
        entries = self.r.named(node, "user")
        self._unique_ci(entries, "user")
        out: dict[str, User] = {}
        for name, unode in entries:
            self._name(name, unode, Kind.USER, "user")
            f = self.r.fields(unode, USER_FIELDS, what=f"user {name}") if unode.value is not None else {}
            if f is None:
                continue
            groups: list[str] = []
            if "groups" in f:
                items = self.r.items(f["groups"], "group names")
                for item in items:
                    group = self.r.reference(item, names.groups, "group", "groups")
                    if group:
                        groups.append(group)
                if len(items) > MAX_GROUPS_PER_USER:
                    self.r.error(
                        f["groups"], f"user is in {len(items)} groups; IAM allows {MAX_GROUPS_PER_USER}"
                    )
            cli = self._cli(f)
            self._cli_agrees(name, unode, groups, cli)
            key_path = self._pgp_key(f["pgp_key"]) if "pgp_key" in f else None
            has_key = "pgp_key" in f
            keep = False
            if "credentials" in f:
                keep = self.r.choice(f["credentials"], CREDENTIALS_CHOICES) == "keep"
            if keep:
                for key in ("console", "access_key"):
                    if key in f:
                        self.r.error(
                            f[key],
                            f"user {name} has credentials: keep, so {key} has no effect",
                            "credentials: keep leaves the console password and access keys as they are in "
                            f"AWS; remove {key}:, or remove credentials: keep to let iamlayer manage them",
                        )
            console = has_key and not keep
            if "console" in f and not keep:
                console = bool(self.r.boolean(f["console"]))
                if console and not has_key:
                    self.r.error(
                        f["console"],
                        f"user {name} has a console password but no pgp_key",
                        f"its password is encrypted to the user's key: add pgp_key: keys/{name}, "
                        "or set console: false",
                    )
            access_key = self._flag(f, "access_key", False) and not keep
            if access_key and not has_key:
                self.r.error(
                    f["access_key"],
                    f"user {name} has an access key but no pgp_key",
                    f"its secret key is encrypted to the user's key: add pgp_key: keys/{name}, "
                    "or set access_key: false",
                )
            if key_path is not None and (console or access_key):
                self._exposed_key(name, f["pgp_key"], key_path)
            out[name] = User(
                name=name, groups=tuple(dict.fromkeys(groups)), pgp_key=key_path, console=console,
                access_key=access_key,
                password_reset_required=self._flag(f, "password_reset_required", True),
                path=self._path(f), tags=self._tags(f), keep_credentials=keep, cli=cli,
            )  # fmt: skip
        return out

    # --- access checks --------------------------------------------------------------------------

    def _checks(
        self,
        node: Node,
        names: _Names,
        roles: Mapping[str, Role],
        accounts: Mapping[str, Account],
        users: list[str],
    ) -> tuple[Check, ...]:
        """`checks:`, the shape only; iamlayer.access.checks evaluates them on a valid spec."""
        out: list[Check] = []
        for item in self.r.items(node, "checks ({who: ..., can: ..., on: ...})"):
            f = self.r.fields(item, CHECK_FIELDS, required=("who", "on"), what="a check")
            if f is None:
                continue
            who = self._check_who(f["who"], names, users) if "who" in f else None
            verbs = [k for k in ("can", "cannot") if k in f]
            if len(verbs) != 1:
                self.r.error(
                    item,
                    "a check has one of can: and cannot:" if verbs else "a check needs can: or cannot:",
                    "e.g. {who: jane.doe, can: sts:AssumeRole, on: role/DevOps@apps-prd, mfa: true}",
                )
            action = (
                self.r.string(
                    f[verbs[0]],
                    pattern=CHECK_ACTION,
                    rule="an action, service:Action without wildcards, e.g. sts:AssumeRole",
                )
                if verbs
                else None
            )
            on = self._check_on(f["on"], roles, accounts) if "on" in f else None
            mfa = self.r.boolean(f["mfa"]) if "mfa" in f else None
            mfa_age = self.r.integer(f["mfa_age"], 0) if "mfa_age" in f else None
            if mfa is False and mfa_age is not None:
                self.r.error(
                    f["mfa_age"], "mfa_age is the age of an MFA sign-in, but this check says mfa: false"
                )
            if who and action and on and len(verbs) == 1:
                out.append(
                    Check(
                        who=who,
                        can=verbs[0] == "can",
                        action=action,
                        on=on,
                        mfa=mfa,
                        mfa_age=mfa_age,
                        line=item.line,
                        path=item.path,
                    )
                )
        return tuple(out)

    def _check_who(self, node: Node, names: _Names, users: list[str]) -> str | None:
        value = self.r.string(node)
        if value is None or value == "*":
            return value
        if value.startswith("group/"):
            group = value[len("group/") :]
            if group in names.groups:
                return value
            guess = grammar.did_you_mean(group, names.groups)
            hint = f"did you mean 'group/{guess}'?" if guess else f"defined groups: {', '.join(names.groups)}"
            self.r.error(node, f"unknown group {group!r}", hint)
            return None
        if value in users:
            return value
        guess = grammar.did_you_mean(value, users)
        hint = f"did you mean {guess!r}?" if guess else 'who: is a user, group/<name>, or "*" (every user)'
        self.r.error(node, f"unknown user {value!r}", hint)
        return None

    def _check_on(self, node: Node, roles: Mapping[str, Role], accounts: Mapping[str, Account]) -> str | None:
        value = self.r.string(node)
        if value is None or value == "*":
            return value
        ref = parse_role_ref(value)
        if ref is not None:
            role_name, account = ref
            ok = True
            named = _roles_named(roles, role_name)
            if not named:
                guess = grammar.did_you_mean(role_name, list(roles))
                hint = (
                    f"did you mean 'role/{guess}@{account}'?"
                    if guess
                    else f"defined roles: {', '.join(roles)}"
                )
                self.r.error(node, f"unknown role {role_name!r}", hint)
                ok = False
            if account != EVERY_ACCOUNT and account not in accounts and self.open_accounts:
                return None  # an account of the organization: checked once it is read (plan)
            if account != EVERY_ACCOUNT and account not in accounts:
                guess = grammar.did_you_mean(account, list(accounts))
                hint = f"did you mean {guess!r}?" if guess else f"accounts: {', '.join(accounts)}"
                self.r.error(node, f"unknown account {account!r}", hint)
                ok = False
            elif ok and account != EVERY_ACCOUNT and not any(account in r.accounts for r in named):
                self.r.error(
                    node,
                    f"role {role_name} is not in account {account}",
                    f"it is in: {', '.join(a for r in named for a in r.accounts) or 'no account'}",
                )
                ok = False
            # Checks are evaluated on IAM names; a spec key that differs (`name:`) is translated.
            return f"role/{named[0].name}@{account}" if ok else None
        if value.startswith("arn:") and len(value.split(":", 5)) == 6:
            return value if self._check_role_arn(node, value, roles, accounts) else None
        self.r.error(node, f"invalid on: {value!r}", CHECK_ON_RULE)
        return None

    def _check_role_arn(
        self, node: Node, arn: str, roles: Mapping[str, Role], accounts: Mapping[str, Account]
    ) -> bool:
        """A role ARN in one of the layer's accounts must be the ARN of one of its roles there."""
        _, _, service, _, account_id, resource = arn.split(":", 5)
        account = next((a for a, acc in accounts.items() if acc.id == account_id), None)
        if service != "iam" or not resource.startswith("role/") or account is None:
            return True
        name = resource.rsplit("/", 1)[-1]
        named = [r for r in roles.values() if r.name == name]
        if not named:
            guess = grammar.did_you_mean(name, list(roles))
            self.r.error(node, f"unknown role {name!r}", f"did you mean {guess!r}?" if guess else None)
            return False
        role = next((r for r in named if account in r.accounts), named[0])
        expected = f"arn:aws:iam::{account_id}:role{role.path}{role.name}"
        if account not in role.accounts or arn != expected:
            where = ", ".join(role.accounts) or "no account"
            self.r.error(
                node,
                f"{arn} is not the ARN of a role of the layer",
                f"role {name} is in: {where}; in {account} its ARN would be {expected}",
            )
            return False
        return True

    def _pgp_key(self, node: Node) -> Path | None:
        rel = self.r.string(node)
        if rel is None:
            return None
        # Many users share a key file (a team's key): each distinct path is looked at once.
        path, kind = self._key_files.get(rel) or self._key_file(rel)
        if not self.check_keys:
            # A person running their own commands (credentials configure, onboard) has the spec
            # and their own key at most, not everyone's: key files are not looked at.
            return path
        if kind == "missing":
            self.r.error(node, f"PGP public key file {rel!r} not found", _missing_key_hint(rel))
            return path
        if kind == "other":
            self.r.error(node, f"PGP public key {rel!r} is not a file", _missing_key_hint(rel))
            return path
        problem = self._key_problem(path)
        if problem is not None:
            self.r.error(node, problem, _missing_key_hint(rel))
        elif path in self._rfc9580_keys:
            self.r.warn(
                node.path,
                f"the key in {rel!r} asks for RFC 9580 messages (SEIPDv2), which GnuPG 2.2 to 2.4 "
                "cannot decrypt",
                "its owner decrypts with sq, or `iamlayer decrypt --secret-key`; a key made by gpg "
                "avoids this",
            )
        return path

    def _exposed_key(self, user: str, node: Node, path: Path) -> None:
        """Warn when what is encrypted to `user` can be read by anyone with the layer folder."""
        if not self.check_keys or self._key_errors.get(path, "unchecked") is not None:
            return  # not looked at, or already an error
        from iamlayer.secrets.exposure import exposure_of, secret_key_files

        if self._secret_keys is None:
            self._secret_keys = secret_key_files(self.root)  # the layer folder, once per run
        exposure = exposure_of(path, self._secret_keys)
        if exposure is not None:
            self.r.warn(node.path, exposure.message(user, self.root), exposure.hint(user, self.root))

    def _key_file(self, rel: str) -> tuple[Path, str]:
        path = (self.root / rel).resolve()
        if not self.check_keys:
            kind = "unchecked"
        else:
            kind = "file" if path.is_file() else "other" if path.exists() else "missing"
        self._key_files[rel] = (path, kind)
        return path, kind

    def _key_problem(self, path: Path) -> str | None:
        """Why the key at `path` cannot be used, or None; each file is loaded once per run."""
        if path not in self._key_errors:
            # Imported here: the secrets package pulls in the OpenPGP library, which a spec
            # load without key checks does not need.
            from iamlayer.secrets.keys import load_public_key

            try:
                if load_public_key(path).rfc9580_only:
                    self._rfc9580_keys.add(path)
                self._key_errors[path] = None
            except KeyFileError as e:
                self._key_errors[path] = str(e)
        return self._key_errors[path]
