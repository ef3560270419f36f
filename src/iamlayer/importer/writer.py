"""Render an imported `Spec` as a commented iamlayer.yaml, and the import's report as IMPORT.md.

The YAML is written by hand, not dumped, so that it reads like the file `iamlayer init` writes:
sections in the same order with a short comment each, one line per user and group where they fit,
policy documents in block style, defaults left out. Every scalar that YAML could read as anything
but a string (ids, versions, `yes`, ARNs) is double-quoted JSON, which YAML reads as the same
string, so `load_spec` of the output gives back the very `Spec` that was rendered (a unit test
holds the writer to that).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from iamlayer.importer.build import ImportReport
from iamlayer.spec.ic_model import DEFAULT_SESSION_DURATION, EXTERNAL_SOURCE, IdentityCenter, PermissionSet
from iamlayer.spec.model import PASSWORD_CLASSES, PasswordPolicy, Role, SelfManagement, Spec, User
from iamlayer.spec.validate import DEFAULT_ACCESS_ROLE

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.@+=/-]*")
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
#: a list of scalars longer than this is written one item per line
FLOW_WIDTH = 96


def scalar(value: Any) -> str:
    """A YAML scalar that reads back as exactly `value`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=False)


def flow(value: Any) -> str:
    """`value` on one line: {a: 1, b: [x, y]}."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, Mapping | list | tuple)


def _fits_flow(value: Any) -> bool:
    if _is_scalar(value) or not value:
        return True
    if isinstance(value, list | tuple) and all(_is_scalar(v) for v in value):
        return len(flow(value)) <= FLOW_WIDTH
    if isinstance(value, Mapping) and all(_is_scalar(v) for v in value.values()):
        return len(flow(value)) <= FLOW_WIDTH // 2
    return False


#: the order people write a statement's elements in (normalised documents come sorted)
_STATEMENT_ORDER = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)


def readable(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A policy document with its elements in the usual order (the same document to IAM)."""
    out = {k: doc[k] for k in ("Version", "Id") if k in doc}
    statements = doc.get("Statement", [])
    if isinstance(statements, list):
        out["Statement"] = [
            {
                **{k: st[k] for k in _STATEMENT_ORDER if k in st},
                **{k: v for k, v in st.items() if k not in _STATEMENT_ORDER},
            }
            if isinstance(st, Mapping)
            else st
            for st in statements
        ]
    else:
        out["Statement"] = statements
    return {**out, **{k: v for k, v in doc.items() if k not in out}}


def block(value: Any, indent: int) -> list[str]:
    """`value` in block style, each line indented by `indent` spaces."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            if _fits_flow(v):
                lines.append(f"{pad}{scalar(k)}: {flow(v)}")
            else:
                lines.append(f"{pad}{scalar(k)}:")
                lines += block(v, indent + 2)
    elif isinstance(value, list | tuple):
        for item in value:
            if _fits_flow(item):
                lines.append(f"{pad}- {flow(item)}")
            else:
                inner = block(item, indent + 2)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines += inner[1:]
    else:
        lines.append(f"{pad}{scalar(value)}")
    return lines


# --- the spec ---------------------------------------------------------------------------------------


def default_password_policy(spec: Spec) -> PasswordPolicy | None:
    """The policy most accounts have: written once at the top, the others as overrides."""
    counts = Counter(a.password_policy for a in spec.accounts.values() if a.password_policy is not None)
    return counts.most_common(1)[0][0] if counts else None


def _password_fields(p: PasswordPolicy, base: PasswordPolicy | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    values: dict[str, Any] = {
        "minimum_length": p.minimum_length,
        "require": [c for c in PASSWORD_CLASSES if c in p.require],
        "allow_users_to_change": p.allow_users_to_change,
        "max_age_days": p.max_age_days,
        "reuse_prevention": p.reuse_prevention,
        "hard_expiry": p.hard_expiry,
    }
    for key, value in values.items():
        if base is None:
            if value is not None:
                out[key] = value
        elif getattr(base, key) != getattr(p, key):
            out[key] = value
    return out


def _account(spec: Spec, name: str, top: PasswordPolicy | None) -> dict[str, Any]:
    acc = spec.accounts[name]
    out: dict[str, Any] = {"id": acc.id}
    if acc.alias is None:
        out["alias"] = False
    elif acc.alias != f"{spec.project_long}-{name}":
        out["alias"] = acc.alias
    if acc.password_policy is None:
        if top is not None:
            out["password_policy"] = False
    elif acc.password_policy != top:
        out["password_policy"] = _password_fields(acc.password_policy, top if top else PasswordPolicy())
    return out


def _role(spec: Spec, key: str, role: Role) -> dict[str, Any]:
    out: dict[str, Any] = {"accounts": list(role.accounts)}
    if role.name != key:
        out["name"] = role.name
    if role.trust_policy is None and role.trusted_account != spec.people_account:
        out["trusted"] = "management"
    if role.policies:
        out["policies"] = list(role.policies)
    if role.inline_policies:
        out["inline_policies"] = {k: readable(d) for k, d in role.inline_policies.items()}
    if role.trust_policy is None:
        if role.mfa_max_age is not None:
            out["mfa_max_age"] = role.mfa_max_age
        if role.source_identity:
            out["source_identity"] = True
        if role.tag_session:
            out["tag_session"] = True
    if role.max_session_duration != 3600:
        out["max_session_duration"] = role.max_session_duration
    if role.permissions_boundary:
        out["permissions_boundary"] = role.permissions_boundary
    if role.description:
        out["description"] = role.description
    if role.path != "/":
        out["path"] = role.path
    if role.tags:
        out["tags"] = dict(role.tags)
    if role.trust_policy is not None:
        out["trust_policy"] = readable(role.trust_policy)
    if role.entitled:
        out["entitled"] = list(role.entitled)
    return out


def _group(spec: Spec, name: str) -> dict[str, Any]:
    g = spec.groups[name]
    out: dict[str, Any] = {}
    if g.assume:
        out["assume"] = list(g.assume)
    if g.self_management is not SelfManagement.NONE:
        out["self_management"] = g.self_management.value
    if g.policies:
        out["policies"] = list(g.policies)
    if g.inline_policies:
        out["inline_policies"] = {k: readable(d) for k, d in g.inline_policies.items()}
    if g.path != "/":
        out["path"] = g.path
    return out


def _user(spec: Spec, u: User) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if u.pgp_key is not None:
        out["pgp_key"] = u.pgp_key.relative_to(spec.root).as_posix()
    if u.groups:
        out["groups"] = list(u.groups)
    if u.keep_credentials:
        out["credentials"] = "keep"
    else:
        if u.console != (u.pgp_key is not None):
            out["console"] = u.console
        if u.access_key:
            out["access_key"] = True
    if u.path != "/":
        out["path"] = u.path
    if u.tags:
        out["tags"] = dict(u.tags)
    return out


def _permission_set(ps: PermissionSet) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ps.description:
        out["description"] = ps.description
    if ps.session_duration != DEFAULT_SESSION_DURATION:
        out["session_duration"] = ps.session_duration
    if ps.policies:
        out["policies"] = list(ps.policies)
    if ps.customer_managed_policies:
        out["customer_managed_policies"] = list(ps.customer_managed_policies)
    if ps.inline_policy is not None:
        out["inline_policy"] = readable(ps.inline_policy)
    if ps.boundary_managed:
        out["boundary"] = ps.boundary or "none"
    if ps.relay_state:
        out["relay_state"] = ps.relay_state
    return out


def _assignments(ic: IdentityCenter) -> list[dict[str, Any]]:
    """One item per principal and permission set, with its accounts (the loader expands them back
    in the same order)."""
    items: dict[tuple[str, str, str], list[str]] = {}
    for a in ic.assignments:
        items.setdefault((a.principal_type, a.principal, a.permission_set), []).append(a.account)
    return [
        {kind.lower(): principal, "permission_sets": [ps], "accounts": accounts}
        for (kind, principal, ps), accounts in items.items()
    ]


def _identity_center(spec: Spec) -> list[str]:
    """The `identity_center:` block, laid out as the README's example."""
    ic = spec.identity_center
    assert ic is not None
    out = [
        *_comment(
            "IAM Identity Center: people, groups, permission sets and assignments iamlayer made. Someone\n"
            "else's stay as they are (IMPORT.md lists them). customer_managed_policies name `policies:`,\n"
            "which iamlayer makes in every account the permission set is assigned in."
        ),
        "identity_center:",
        f"  account: {scalar(ic.account)}",
    ]
    if ic.region != spec.region:
        out.append(f"  region: {scalar(ic.region)}")
    if ic.identity_store_id:
        out.append(
            f"  identity_store_id: {scalar(ic.identity_store_id)}   # people sign in at {ic.portal_url} "
            "(start_url: if customised)"
        )
    external = ic.identity_source == EXTERNAL_SOURCE
    if external:
        out.append(
            f"  identity_source: {EXTERNAL_SOURCE}   # users and groups: an identity provider's, by name"
        )
    if ic.users:
        out.append("  users:")
        for name, u in ic.users.items():
            if u.external:
                out.append(
                    f"    {scalar(name)}: {{}}" if external else f"    {scalar(name)}: {{external: true}}"
                )
                continue
            user: dict[str, Any] = {
                "email": u.email,
                "given_name": u.given_name,
                "family_name": u.family_name,
            }
            if u.display_name != f"{u.given_name} {u.family_name}".strip():
                user["display_name"] = u.display_name
            out += _entry(name, user, 4)
    if ic.groups:
        out.append("  groups:")
        for name, g in ic.groups.items():
            if g.external:
                out.append(
                    f"    {scalar(name)}: {{}}" if external else f"    {scalar(name)}: {{external: true}}"
                )
                continue
            group: dict[str, Any] = {}
            if g.description:
                group["description"] = g.description
            if g.members:
                group["members"] = list(g.members)
            out += _entry(name, group, 4) if group else [f"    {scalar(name)}: {{}}"]
    if ic.permission_sets:
        out.append("  permission_sets:")
        for name, ps in ic.permission_sets.items():
            body = _permission_set(ps)
            out += [f"    {scalar(name)}:", *block(body, 6)] if body else [f"    {scalar(name)}: {{}}"]
    if ic.assignments:
        out.append("  assignments:")
        out += [f"    - {flow(item)}" for item in _assignments(ic)]
    return out


def _entry(name: str, value: Mapping[str, Any], indent: int, note: str | None = None) -> list[str]:
    """`name: {...}` on one line when it fits, else a block."""
    pad = " " * indent
    lines = [f"{pad}# {note}"] if note else []
    one = f"{pad}{scalar(name)}: {flow(value)}"
    if len(one) <= 120 and all(_fits_flow(v) for v in value.values()):
        return [*lines, one]
    return [*lines, f"{pad}{scalar(name)}:", *block(value, indent + 2)]


def _comment(text: str) -> list[str]:
    return [f"# {line}".rstrip() for line in text.splitlines()]


def render_spec(spec: Spec, report: ImportReport, *, command: str, now: datetime | None = None) -> str:
    """The imported spec as iamlayer.yaml text, commented like the file `iamlayer init` writes."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    adopt = len(report.adopt)
    out: list[str] = _comment(
        f"iamlayer.yaml: your AWS identities layer, imported by `{command}` on {when}\n"
        f"from {report.source}.\n"
        "IMPORT.md beside this file says what was imported, what was left as it is, and why.\n"
        "\n"
        "Next: iamlayer validate && iamlayer plan\n"
        + (
            f"  The first plan only adopts: it adds iamlayer's ownership marker (the tag iamlayer:project,\n"
            f"  or a group's marker policy) to the {adopt} resource(s) that exist without one, and changes\n"
            "  nothing else. `iamlayer apply` does that; the next plan is empty.\n"
            if adopt
            else "  iamlayer already owns everything below: the plan is empty.\n"
        )
        + "The file `iamlayer init` writes documents every field. Paths are relative to this file."
    )
    out += ["", f"project: {scalar(spec.project)}"]
    if spec.project_long != spec.project:
        out.append(
            f"project_long: {scalar(spec.project_long)}   # account aliases default to <project_long>-<account>"
        )
    out.append(f"region: {scalar(spec.region)}")

    top = default_password_policy(spec)
    out += [
        "",
        *_comment(
            "Every account: name -> id. alias: false leaves an account without an alias as it is;\n"
            "an alias other than <project_long>-<name> is written out."
        ),
        "accounts:",
    ]
    for name in spec.accounts:
        note = []
        if name == spec.management_account:
            note.append("the Organization's management account")
        if name == spec.people_account:
            note.append("the people account: IAM users and groups live here")
        line = _entry(name, _account(spec, name, top), 2)
        out += [f"{line[0]}   # {'; '.join(note)}" if note and len(line) == 1 else line[0], *line[1:]]
    out.append(f"people_account: {scalar(spec.people_account)}")
    if spec.management_account and (
        spec.management_account != "management" or "management" not in spec.accounts
    ):
        out.append(f"management_account: {scalar(spec.management_account)}")
    if spec.access_role != DEFAULT_ACCESS_ROLE or len(spec.accounts) > 1:
        out.append(f"access_role: {scalar(spec.access_role)}   # how iamlayer reaches member accounts")

    if top is not None:
        out += [
            "",
            "# The password policy of most accounts; accounts that differ say so above.",
            "password_policy:",
        ]
        out += block(_password_fields(top), 2)

    if spec.policies:
        out += [
            "",
            "# Customer-managed policies in the people account; groups attach them by name.",
            "policies:",
        ]
        for name, p in spec.policies.items():
            body: dict[str, Any] = {}
            if p.description:
                body["description"] = p.description
            if p.path != "/":
                body["path"] = p.path
            body["document"] = readable(p.document)
            out += [f"  {scalar(name)}:", *block(body, 4)]

    if spec.roles:
        out += [
            "",
            *_comment(
                "Roles, in each of `accounts`. A trust policy of iamlayer's shape is written as trusted,\n"
                "mfa_max_age, source_identity and tag_session; any other is kept as trust_policy."
            ),
            "roles:",
        ]
        for key, role in spec.roles.items():
            role_note = report.notes.get(f"roles.{key}")
            out += [
                *([f"  # {role_note}"] if role_note else []),
                f"  {scalar(key)}:",
                *block(_role(spec, key, role), 4),
            ]

    if spec.groups:
        out += [
            "",
            *_comment(
                "Groups, in the people account. assume: and self_management: stand for the inline\n"
                "policies iamlayer writes (assume-roles, self-management); every other policy is kept."
            ),
            "groups:",
        ]
        for name in spec.groups:
            out += _entry(name, _group(spec, name), 2, report.notes.get(f"groups.{name}"))

    if spec.users:
        kept = sum(1 for u in spec.users.values() if u.keep_credentials)
        text = "Users, in the people account."
        if kept:
            text += (
                "\ncredentials: keep (no PGP key known for the user): iamlayer never creates, deletes or\n"
                "rotates their console password or access keys. To hand them over later: add their key\n"
                "(gpg --export NAME | base64 > keys/USER), set pgp_key: keys/USER and replace\n"
                "`credentials: keep` by console:/access_key: as they have them; what exists stays."
            )
        out += ["", *_comment(text), "users:"]
        for name, user in spec.users.items():
            out += _entry(name, _user(spec, user), 2, report.notes.get(f"users.{name}"))

    if spec.identity_center is not None:
        out += ["", *_identity_center(spec)]

    if spec.adopt:
        out += [
            "",
            *_comment(
                "Adopt what exists: the next apply adds iamlayer's ownership marker to the users, groups,\n"
                "roles and policies above that exist without one, and changes nothing else about them.\n"
                "Once applied, this line may go (adopting a resource created later by hand then needs it again)."
            ),
            "adopt: true",
        ]
    return "\n".join(out) + "\n"


# --- the report -------------------------------------------------------------------------------------


def _bullets(items: Iterable[str], empty: str = "none") -> list[str]:
    lines = [f"- {i}" for i in items]
    return lines or [f"- {empty}"]


def render_report(
    report: ImportReport,
    *,
    command: str,
    seconds: float,
    api_calls: Mapping[str, Any] | None,
    written: Iterable[str],
    now: datetime | None = None,
) -> str:
    """IMPORT.md: what was imported, adopted, kept as it is, left out, and why."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    c = report.counts
    lines = [
        "# What `iamlayer import` found",
        "",
        f"`{command}` on {when}, from {report.source}, in {seconds:.1f} s"
        + (f" and {api_calls.get('total', 0)} AWS API calls" if api_calls else " (no AWS call)")
        + ".",
        "",
        f"- project: `{report.project}` (from {report.project_from})",
        f"- people account: `{report.people_account}`",
        f"- imported: {c.get('users', 0)} users, {c.get('groups', 0)} groups, {c.get('policies', 0)} "
        f"customer-managed policies, {c.get('roles', 0)} roles ({c.get('role_instances', 0)} in all accounts together)",
        *(
            [
                f"- IAM Identity Center: {c['ic_users']} users, {c['ic_groups']} groups, {c.get('permission_sets', 0)} "
                f"permission sets, {c.get('ic_assignments', 0)} assignments (`identity_center:`)"
            ]
            if "ic_users" in c
            else []
        ),
        "",
        "| account | id | alias |",
        "|---|---|---|",
        *[f"| {n} | {i} | {a or '(none: alias: false)'} |" for n, i, a in report.accounts],
        "",
        "## Adoption",
        "",
    ]
    if report.adopt:
        kinds = Counter(a.split("/")[1] for a in report.adopt)
        lines += [
            f"{len(report.adopt)} resource(s) exist without any iamlayer ownership marker: "
            + ", ".join(f"{n} {k}(s)" for k, n in sorted(kinds.items()))
            + ". The spec says `adopt: true`, so the first `iamlayer plan` shows them as `& adopt` and "
            "nothing else; `iamlayer apply` adds the marker (the tag `iamlayer:project`; for groups, which "
            "cannot be tagged, the inline marker policy `iamlayer-owner-<project>` that denies nothing). "
            "Ids, tags others set, passwords and access keys stay as they are.",
            "",
            "Policies are adopted by their tag: a policy's description cannot be changed once it exists, "
            "and iamlayer marks only the policies it creates there.",
        ]
    else:
        lines.append("Nothing to adopt.")
    if report.owned:
        lines += ["", f"{report.owned} resource(s) were already owned by project `{report.project}`."]
    lines += ["", "## Users and their credentials"]
    if report.key_users:
        lines += [
            "",
            f"{len(report.key_users)} user(s) have a known PGP key (`pgp_key`): iamlayer manages their console "
            "password and access keys from now on, as the spec says they are.",
        ]
    if report.kept_users:
        lines += [
            "",
            f"{len(report.kept_users)} user(s) have `credentials: keep` (no PGP key known): their console password "
            "and access keys stay exactly as they are; iamlayer never creates, deletes or rotates them. To hand a "
            "user over to iamlayer: add their public key (`gpg --export NAME | base64 > keys/USER`), set "
            "`pgp_key: keys/USER`, replace `credentials: keep` by `console:`/`access_key:` as they have them, "
            "and run `iamlayer plan`: what exists stays (a key iamlayer did not issue is only noted); "
            "`iamlayer password reset USER` or `iamlayer access-key rotate USER` re-issue them encrypted.",
            "",
            *_bullets(report.kept_users[:50]),
        ]
        if len(report.kept_users) > 50:
            lines.append(
                f"- ... and {len(report.kept_users) - 50} more (see `credentials: keep` in iamlayer.yaml)"
            )
    lines += ["", "## Roles", ""]
    if report.verbatim_trust:
        lines += [
            "Trust policies not of the shape iamlayer writes are kept verbatim (`trust_policy:`):",
            "",
            *_bullets(f"`{k}`" for k in report.verbatim_trust),
            "",
        ]
    if report.split_roles:
        lines += [
            "Roles of one name defined differently across accounts stay apart (`name:` gives the IAM name):",
            "",
        ]
        for s in report.split_roles:
            parts = "; ".join(f"`{k}` in {', '.join(a)}" for k, a in s.entries)
            lines.append(f"- `{s.name}`: {parts} (differ in: {', '.join(s.differences)})")
        lines.append("")
    if not report.verbatim_trust and not report.split_roles:
        lines += ["Every role has iamlayer's trust policy shape, and one definition in all its accounts.", ""]
    if report.roles_left_out:
        lines += [
            "Roles left out: not the layer's. Only roles iamlayer owns and roles whose trust policy names a "
            "principal of the people account are imported; these (services', Control Tower's, StackSets' "
            "or trusting others) stay exactly as they are, never modified or deleted. "
            "`iamlayer import aws --all-roles` imports them too:",
            "",
            *_bullets(f"{a}: `{r}`: {w}" for a, r, w in report.roles_left_out),
            "",
        ]
    left = [f for f in report.findings if f.kind == "left_out"]
    kept = [f for f in report.findings if f.kind == "kept"]
    notes = [f for f in report.findings if f.kind == "note"]
    lines += [
        "## Not modelled: left out of the spec, left as they are",
        "",
        "iamlayer never modifies or deletes what its spec does not name; these stay exactly as they are.",
        "",
        *_bullets((f"{f.where}: {f.what}: {f.why}" for f in left), "nothing"),
        "",
        "## Kept as they are",
        "",
        *_bullets((f"{f.where}: {f.what}: {f.why}" for f in kept), "nothing"),
    ]
    if notes:
        lines += ["", "## Notes", "", *_bullets(f"{f.where}: {f.what}: {f.why}" for f in notes)]
    lines += ["", "## Files written", "", *_bullets(f"`{w}`" for w in written)]
    lines += [
        "",
        "## Next",
        "",
        "1. `iamlayer validate`",
        "2. `iamlayer plan`: only `& adopt` lines (and notes); nothing created, changed or destroyed.",
        "3. `iamlayer apply`, then `iamlayer plan` again: no changes.",
        "",
        "Coming from Terraform: see the README's migration guide before anything runs `terraform apply` again.",
    ]
    return "\n".join(lines) + "\n"
