"""What `iamlayer migrate identity-center` proposes to add to a spec (issue 24 item 5): pure.

From the IAM layer of a spec:

- each IAM user becomes an Identity Center user of the same name (its email from a user tag or
  a CSV, its names from the CSV or from the user name, `jane.doe` -> Jane Doe);
- each IAM group that assumes roles becomes an Identity Center group of the same name, with the
  same members;
- `via permission-sets`: each role such a group assumes becomes a permission set of the role's
  name mirroring its permissions (AWS-managed policies, inline policies merged into the one
  inline policy a permission set has, its boundary, its session duration), assigned to the
  group in the role's accounts, written as the role's `accounts:` (and `exclude:`) are;
- `via entitlements`: the roles stay, and the group is entitled to them
  (`roles.<Role>.entitled: [group/<name>]`, the account access manager).

The IAM layer stays: both run side by side until the IAM users are retired. What cannot be
mirrored (a customer-managed policy iamlayer does not make, a group's own policies) is said in
`notes`, and the parity table shows what it changes.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from iamlayer.errors import Diagnostic, SpecError
from iamlayer.kinds import limit
from iamlayer.plan.model import Kind
from iamlayer.spec.ic_model import iso_duration
from iamlayer.spec.ic_validate import PERMISSION_SET_NAME
from iamlayer.spec.model import Role, Spec
from iamlayer.spec.nodes import Node, to_plain
from iamlayer.spec.validate import POLICY_ARN

#: the tag of an IAM user that holds the person's email, unless --email-tag says otherwise
DEFAULT_EMAIL_TAG = "email"
AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class Via(StrEnum):
    """How the groups reach the accounts once in Identity Center."""

    PERMISSION_SETS = "permission-sets"
    ENTITLEMENTS = "entitlements"


@dataclass(frozen=True)
class Person:
    """What the CSV (or a tag) says about one IAM user."""

    email: str
    given_name: str = ""
    family_name: str = ""


@dataclass
class Proposal:
    """The entries to add under `identity_center:` (YAML values, in the order written) and the
    `entitled:` to add to roles; `notes` say what the move leaves behind."""

    via: Via
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    permission_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    #: role key -> principals to add to its `entitled:` ("group/devops")
    entitled: dict[str, list[str]] = field(default_factory=dict)
    #: existing Identity Center group -> the IAM group's members to add to it
    members: dict[str, list[str]] = field(default_factory=dict)
    #: IAM group -> the roles it assumes (what each Identity Center group stands for)
    groups_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_people_csv(text: str, source: str) -> dict[str, Person]:
    """`user,email[,given_name,family_name]` rows (a header line naming them) -> user -> Person.
    A malformed file is a SpecError naming the file and row."""
    rows = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in rows.fieldnames or []]
    if "user" not in fields or "email" not in fields:
        raise SpecError(
            [
                Diagnostic(
                    source,
                    1,
                    "",
                    "the people CSV needs a header with the columns user,email",
                    "user,email,given_name,family_name (the last two optional)",
                )
            ]
        )
    out: dict[str, Person] = {}
    for n, row in enumerate(rows, start=2):
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        user = clean.get("user", "")
        if not user:
            continue
        if user in out:
            raise SpecError([Diagnostic(source, n, "", f"user {user!r} is listed twice")])
        out[user] = Person(clean.get("email", ""), clean.get("given_name", ""), clean.get("family_name", ""))
    return out


def names_of(user: str) -> tuple[str, str]:
    """Given and family name guessed from a user name: `jane.doe` -> (Jane, Doe); one part is
    both (Identity Center requires both)."""
    parts = [p for p in re.split(r"[._\-+@=,]+", user) if p]
    if not parts:
        return user, user
    given = parts[0].capitalize()
    family = " ".join(p.capitalize() for p in parts[1:]) or given
    return given, family


def _user_line(spec: Spec, user: str) -> int | None:
    tree = spec.source_tree
    if not isinstance(tree, Node) or not isinstance(tree.value, Mapping) or "users" not in tree.value:
        return None
    users = tree.child("users")
    return users.child(user).line if isinstance(users.value, Mapping) and user in users.value else users.line


def _written_accounts(spec: Spec, key: str) -> dict[str, Any]:
    """The role's `accounts:` (and `exclude:`) as the spec writes them, selectors and all; the
    role's resolved accounts when the tree is not at hand."""
    tree = spec.source_tree
    if isinstance(tree, Node) and isinstance(tree.value, Mapping) and "roles" in tree.value:
        roles = tree.child("roles")
        if isinstance(roles.value, Mapping) and key in roles.value:
            entry = roles.child(key).value
            if isinstance(entry, Mapping):
                out = {"accounts": to_plain(entry["accounts"]) if "accounts" in entry else "all"}
                if "exclude" in entry:
                    out["exclude"] = to_plain(entry["exclude"])
                return out
    return {"accounts": list(spec.roles[key].accounts)}


def mirror_role(spec: Spec, key: str, role: Role) -> tuple[dict[str, Any], list[str]]:
    """A permission set (as written under `permission_sets:`) with the permissions of `role`,
    and what could not be mirrored."""
    notes: list[str] = []
    body: dict[str, Any] = {"description": f"{role.description or key} (from IAM role {role.name})"[:700]}
    seconds = min(max(role.max_session_duration, 3600), 43200)
    if seconds != 3600:
        body["session_duration"] = iso_duration(seconds)
    managed = [p for p in role.policies if p.startswith(AWS_MANAGED_PREFIX)]
    own = [p for p in role.policies if not p.startswith(AWS_MANAGED_PREFIX)]
    if managed:
        body["policies"] = managed
    customer = [name for name, pol in spec.policies.items() if _matches_spec_policy(own, pol.path, pol.name)]
    if customer:
        body["customer_managed_policies"] = customer
    for arn in own:
        path, name = _path_name(arn)
        if name not in spec.policies or spec.policies[name].path != path:
            notes.append(
                f"role {key} attaches {arn}, which iamlayer does not make: permission set {key} lacks it "
                f"(add a policy {name!r} under policies: and to its customer_managed_policies)"
            )
    if role.inline_policies:
        statements: list[Any] = []
        for doc in role.inline_policies.values():
            raw = doc.get("Statement", [])
            statements += raw if isinstance(raw, list) else [raw]
        body["inline_policy"] = {"Version": "2012-10-17", "Statement": statements}
    if role.permissions_boundary:
        b_path, b_name = _path_name(role.permissions_boundary)
        if role.permissions_boundary.startswith(AWS_MANAGED_PREFIX):
            body["boundary"] = role.permissions_boundary
        elif b_name in spec.policies and spec.policies[b_name].path == b_path:
            body["boundary"] = b_name
        else:
            notes.append(
                f"role {key}'s permissions boundary {role.permissions_boundary} is not a policy iamlayer "
                f"makes: permission set {key} has none"
            )
    return body, notes


def _path_name(arn: str) -> tuple[str, str]:
    """`arn:aws:iam::123:policy/a/b/name` -> ("/a/b/", "name")."""
    rest = arn.split(":policy", 1)[-1]
    path, _, name = rest.rpartition("/")
    return path + "/", name


def _matches_spec_policy(arns: list[str], path: str, name: str) -> bool:
    return any(_path_name(a) == (path, name) for a in arns if POLICY_ARN.fullmatch(a))


def set_name(role_key: str) -> str:
    """The permission set that mirrors a role: the role's key, in the characters and length a
    permission set's name allows (32: a role's may be 64)."""
    if PERMISSION_SET_NAME.fullmatch(role_key):
        return role_key
    return re.sub(r"[^\w+=,.@-]", "-", role_key, flags=re.ASCII)[: limit(Kind.PERMISSION_SET, "name")]


def propose(
    spec: Spec,
    via: Via,
    *,
    people: Mapping[str, Person] | None = None,
    email_tag: str = DEFAULT_EMAIL_TAG,
    people_source: str = "",
) -> Proposal:
    """What to add to `spec` to move its people to Identity Center. Every IAM user needs an
    email (`people`, else the tag `email_tag`): those without one are one SpecError listing each,
    at its line."""
    out = Proposal(via)
    ic = spec.identity_center
    have_users = dict(ic.users) if ic else {}
    have_groups = dict(ic.groups) if ic else {}
    have_sets = dict(ic.permission_sets) if ic else {}
    missing: list[Diagnostic] = []
    for name, user in spec.users.items():
        if name in have_users:
            out.notes.append(f"user {name} is already an Identity Center user: kept as it is")
            continue
        person = (people or {}).get(name)
        email = person.email if person else user.tags.get(email_tag, "")
        if not _EMAIL.fullmatch(email or ""):
            where = f"a row in {people_source}" if people else f"the tag {email_tag!r}"
            missing.append(
                Diagnostic(
                    str(spec.path),
                    _user_line(spec, name),
                    f"users.{name}",
                    f"IAM user {name} has no email for Identity Center"
                    + (f" ({email!r} is not an email address)" if email else ""),
                    f"give it {where}, or pass --emails people.csv (columns user,email[,given_name,family_name])",
                )
            )
            continue
        guessed = names_of(name)
        given = (person.given_name if person else "") or guessed[0]
        family = (person.family_name if person else "") or guessed[1]
        out.users[name] = {"email": email, "given_name": given, "family_name": family}
        if user.access_key and not user.console:
            out.notes.append(
                f"user {name} has an access key and no console password: if a program uses it, give the "
                "program a role of its own (Identity Center is for people)"
            )
    if missing:
        raise SpecError(missing)

    for gname, group in spec.groups.items():
        members = [u for u, user in spec.users.items() if gname in user.groups]
        if not group.assume:
            if group.policies or group.inline_policies:
                out.notes.append(f"group {gname} assumes no role; its own policies stay with IAM (not moved)")
            continue
        if group.policies or group.inline_policies:
            out.notes.append(
                f"group {gname}'s own policies (beside its roles) stay with IAM: its members keep their "
                "IAM users for them"
            )
        out.groups_roles[gname] = group.assume
        if gname in have_groups:
            absent = [m for m in members if m not in have_groups[gname].members]
            if have_groups[gname].external:
                out.notes.append(
                    f"group {gname} is an external identity provider's: its members are its provider's"
                    + (
                        f" (add {', '.join(absent)} to it there for their access to carry over)"
                        if absent
                        else ""
                    )
                )
            elif absent:
                out.members[gname] = absent
        else:
            body: dict[str, Any] = {"description": f"from IAM group {gname}"}
            if members:
                body["members"] = members
            out.groups[gname] = body
        for key in group.assume:
            role = spec.roles[key]
            if via is Via.ENTITLEMENTS:
                entitled = out.entitled.setdefault(key, [])
                principal = f"group/{gname}"
                if principal not in role.entitled and principal not in entitled:
                    entitled.append(principal)
                continue
            name = set_name(key)
            if name not in out.permission_sets:
                if name in have_sets:
                    out.notes.append(f"permission set {name} already exists in the spec: used as it is")
                else:
                    body, notes = mirror_role(spec, key, role)
                    out.permission_sets[name] = body
                    out.notes += notes
                    if spec.management_account in role.accounts:
                        out.notes.append(
                            f"permission set {name} is assigned in the management account {spec.management_account}, "
                            f"as role {key} is there: AWS advises against it (validate and plan warn)"
                        )
            out.assignments.append(
                {"group": gname, "permission_sets": [name], **_written_accounts(spec, key)}
            )
    out.entitled = {k: v for k, v in out.entitled.items() if v}
    return out
