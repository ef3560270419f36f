"""Warnings about a valid spec: things AWS accepts that are probably not what was meant.

Lint runs only on a spec that validated, so every reference resolves. Its findings have
severity "warning" and never make loading fail.
"""

from __future__ import annotations

from collections.abc import Mapping

from iamlayer.errors import Diagnostic
from iamlayer.kinds import default_quota, limit
from iamlayer.plan.ic_diff import management_assignments
from iamlayer.plan.model import Kind
from iamlayer.spec import policy_grammar as grammar
from iamlayer.spec.model import PolicyDocument, Spec
from iamlayer.spec.nodes import Reader, doc_path_suffix

_ADMIN_HINT = (
    "full administrator access belongs in an assumable role with MFA (see roles:), not on people directly"
)


def _managed_quota(reader: Reader, at: str, what: str, attached: int, kind: Kind, per: str) -> None:
    """Warn past the default of the `managed_policies` quota of `kind` (validate refuses past its
    maximum)."""
    default = default_quota(kind, "managed_policies")
    if attached > default:
        reader.warn(
            at,
            f"{what} attaches {attached} managed policies; IAM's default quota is "
            f"{default} per {per}, so AWS refuses the rest until it is raised",
            f"request a quota increase of 'Managed policies per {per}' (up to "
            f"{limit(kind, 'managed_policies')}) or merge policies",
        )


def lint(spec: Spec, reader: Reader) -> None:
    """Append a warning to `reader` for each suspicious construct in `spec` (and notes)."""
    _kept_credentials(spec, reader)
    for name, policy in spec.policies.items():
        at = f"policies.{name}.document"
        if grammar.grants_unconditional_admin(policy.document):
            reader.warn(at, f"policy {name} allows every action on every resource", _ADMIN_HINT)
        _document(reader, at, policy.document)

    for name, role in spec.roles.items():
        if role.mfa_max_age is not None and role.mfa_max_age < role.max_session_duration:
            reader.warn(
                f"roles.{name}.mfa_max_age",
                f"mfa_max_age ({role.mfa_max_age}s) is shorter than max_session_duration "
                f"({role.max_session_duration}s)",
                "role sessions outlive the MFA age the trust policy demands, and a cached MFA "
                "session older than mfa_max_age can no longer assume the role, so people are asked "
                "for MFA codes more often than sessions last; make mfa_max_age >= max_session_duration",
            )
        _inline(reader, f"roles.{name}.inline_policies", role.inline_policies)
        _managed_quota(
            reader, f"roles.{name}.policies", f"role {name}", len(role.policies), Kind.ROLE, "role"
        )

    if spec.identity_center is not None:
        # Named accounts only: those an OU selector reaches are known at plan time, which warns too.
        for a, text, hint in management_assignments(spec):
            reader.diagnostics.append(
                Diagnostic(reader.file, a.line, "identity_center.assignments", text, hint, "warning")
            )
        for name, pset in spec.identity_center.permission_sets.items():
            attached = len(pset.policies) + len(pset.customer_managed_policies)
            _managed_quota(
                reader,
                f"identity_center.permission_sets.{name}",
                f"permission set {name} (the role it provisions in each account)",
                attached,
                Kind.PERMISSION_SET,
                "role",
            )

    for name, group in spec.groups.items():
        base = f"groups.{name}"
        for i, ref in enumerate(group.policies):
            at = f"{base}.policies[{i}]"
            if ref.startswith("arn:") and grammar.is_admin_policy_arn(ref):
                reader.warn(at, f"group {name} gets AdministratorAccess directly", _ADMIN_HINT)
        _managed_quota(reader, f"{base}.policies", f"group {name}", len(group.policies), Kind.GROUP, "group")
        for pname, doc in group.inline_policies.items():
            if grammar.grants_unconditional_admin(doc):
                reader.warn(
                    f"{base}.inline_policies.{pname}",
                    f"inline policy {pname} of group {name} allows every action on every resource",
                    _ADMIN_HINT,
                )
        _inline(reader, f"{base}.inline_policies", group.inline_policies)
        for i, role_name in enumerate(group.assume):
            role = spec.roles[role_name]
            at = f"{base}.assume[{i}]"
            # Until the organization is read (plan), a role chosen by it may list no account yet.
            if not role.accounts and not spec.unresolved:
                reader.warn(
                    at,
                    f"role {role_name} is in no account, so group {name} can assume nothing",
                    f"list accounts under roles.{role_name}.accounts (or: all)",
                )
            if role.trusted_account != spec.people_account:
                reader.warn(
                    at,
                    f"role {role_name} trusts account {role.trusted_account}, not the people "
                    f"account {spec.people_account}, so members of group {name} cannot assume it",
                    f"remove trusted: from role {role_name}, or drop it from this group",
                )


def _inline(reader: Reader, base: str, docs: Mapping[str, PolicyDocument]) -> None:
    for pname, doc in docs.items():
        _document(reader, f"{base}.{pname}", doc)


def _document(reader: Reader, at: str, doc: PolicyDocument) -> None:
    """Every warning about one valid policy document (grammar.policy_warnings, MFA conditions)."""
    for w in grammar.policy_warnings(doc, grammar.load_action_catalogue()):
        reader.warn(at + doc_path_suffix(w.path), w.message, w.hint)
    _mfa_bool(reader, at, doc)


def _mfa_bool(reader: Reader, at: str, doc: PolicyDocument) -> None:
    for use in grammar.mfa_bool_conditions(doc):
        where = at + doc_path_suffix(use.path)
        if use.effect == "Deny":
            reader.warn(
                where,
                "plain Bool on aws:MultiFactorAuthPresent in a Deny fails open: requests signed "
                "with long-term access keys carry no such key, so the Deny never applies to them",
                'use BoolIfExists: {"aws:MultiFactorAuthPresent": "false"} to deny whenever '
                "MFA is not proven",
            )
        else:
            reader.warn(
                where,
                "plain Bool on aws:MultiFactorAuthPresent in an Allow fails closed for requests "
                "signed with long-term access keys (the key is absent), and is the pattern whose "
                "Deny form fails open",
                'prefer a Deny with BoolIfExists: {"aws:MultiFactorAuthPresent": "false"}, or '
                'aws:MultiFactorAuthAge with NumericLessThan; keep Bool "true" in an Allow only if '
                "CLI users always go through an MFA session",
            )


def _kept_credentials(spec: Spec, reader: Reader) -> None:
    """Users with `credentials: keep` (imported without a known PGP key): how to hand them over."""
    kept = [u.name for u in spec.users.values() if u.keep_credentials]
    if not kept:
        return
    first = kept[0]
    shown = ", ".join(kept[:5]) + (f" and {len(kept) - 5} more" if len(kept) > 5 else "")
    reader.note(
        f"users.{first}.credentials",
        f"{len(kept)} user(s) keep their console password and access keys exactly as they are in AWS "
        f"(credentials: keep): {shown}; iamlayer never creates, deletes or rotates them",
        f"to let iamlayer manage a user's credentials, add their public key (gpg --export NAME | base64 > "
        f"keys/{first}), set pgp_key: keys/{first}, and replace credentials: keep by console:/access_key: as "
        "the user has them; what exists stays (a key iamlayer did not issue is only noted), and "
        f"`iamlayer password reset {first}` / `iamlayer access-key rotate {first}` re-issue them encrypted",
    )
