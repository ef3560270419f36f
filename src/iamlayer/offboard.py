"""`iamlayer offboard USER`: a person leaves, and every way they had into the layer ends.

    offboard(spec_path, "jane.doe", credentials=..., confirm=...) -> Offboarded

1. What they could reach is asked of the evaluator on what the spec renders, as `access
   who-can-assume` does, in every account: each role they could assume (and through which
   statements), and each Identity Center permission set they were assigned.
2. The spec is edited (iamlayer.spec.edit.without_person): the user, their grants and their
   Identity Center user go, and an `offboarded:` entry records the time and what they could
   reach. The edited spec is validated before anything is written.
3. Their `aws login` sign-in sessions are revoked (signin:BatchRevokeSessions).
4. The usual plan and apply (iamlayer.api.apply_plan) do the rest: the user's deletion removes
   their keys, password, MFA devices and memberships (apply/handlers.delete_user); each role and
   permission set in the entry gets the Deny of their sessions issued before the offboarding
   (iamlayer.plan.desired.offboarded_statements), which a later plan removes once no such session
   can be left.

Bad input (a user the spec does not have, or one iamlayer does not own in AWS) is a SpecError
naming the user: nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamlayer.errors import Diagnostic, IamlayerError, NotFoundError, SpecError
from iamlayer.spec.load import load_spec
from iamlayer.spec.offboarded_validate import role_refs

if TYPE_CHECKING:
    import boto3

    from iamlayer.applied import Applied
    from iamlayer.aws.gateways.signin import Revoked
    from iamlayer.plan.model import Change, Plan
    from iamlayer.spec.model import Spec

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Reach:
    """One thing the person could reach: a role in an account, or a permission set there."""

    account: str
    kind: str  # "role" or "permission_set"
    name: str  # the role's key in the spec, or the permission set's name
    via: tuple[str, ...]  # what gave it: the allowing statements, or the assignment

    def as_json(self) -> dict[str, Any]:
        return {"account": self.account, "kind": self.kind, "name": self.name, "via": list(self.via)}


@dataclass(frozen=True)
class Preview:
    """What offboarding `user` will do, shown before it is confirmed."""

    user: str
    at: datetime
    reach: tuple[Reach, ...]
    entry: dict[str, Any]  # the `offboarded:` entry written to the spec
    iam_user: bool  # they are an IAM user of the spec (else an Identity Center user only)
    ic_user_removed: bool  # their Identity Center user goes (iamlayer makes it)
    in_aws: bool  # the user exists in the people account (else there is nothing to delete)
    #: reached roles (`Role@account`) whose trust does not require sessions named after the person
    #: (a verbatim trust_policy, `trusted: management`): the Deny misses sessions named otherwise
    unnamed: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "at": self.entry["at"],
            "reach": [r.as_json() for r in self.reach],
            "offboarded": self.entry,
            "identity_center_user_removed": self.ic_user_removed,
            "user_in_aws": self.in_aws,
            "roles_without_named_sessions": list(self.unnamed),
        }


@dataclass(frozen=True)
class Offboarded:
    """What `offboard` did: the preview, the sign-in sessions revoked, and the apply."""

    preview: Preview
    applied: Applied
    revoked: Revoked | None = None
    revoke_error: str | None = None  # why the sign-in sessions could not be revoked
    actions: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Applied and verified. (Sign-in sessions that could not be revoked are reported, not
        a failure: with the user deleted, those sessions can do nothing.)"""
        return self.applied.ok

    def as_json(self) -> dict[str, Any]:
        done = self.applied
        return {
            **self.preview.as_json(),
            "actions": list(self.actions),
            "sign_in_sessions": {
                "revoked": list(self.revoked.revoked) if self.revoked else [],
                "errors": [{"session": s, "error": e} for s, e in self.revoked.errors]
                if self.revoked
                else [],
                "error": self.revoke_error,
            },
            "applied": [str(c.address) for c in done.succeeded],
            "failed": [{"address": str(f.change.address), "error": f.error} for f in done.failed],
            "verified": done.verify is not None and done.verify.empty,
            "ok": self.ok,
        }


def at_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reach_of(spec: Spec, user: str, *, now: datetime) -> tuple[Reach, ...]:
    """Every role `user` could assume in every account (by evaluation, as `access
    who-can-assume`: an answer that depends on what is not known counts as reach), and every
    permission set their Identity Center user was assigned, directly or through a group."""
    from iamlayer.access.principals import model_from_spec
    from iamlayer.access.queries import assume_access

    model = model_from_spec(spec, now=now)
    keys = {(r.name, a): k for k, r in spec.roles.items() for a in r.accounts}
    out: list[Reach] = []
    person = model.users.get(user)
    if person is not None:
        for (account, name), role in model.roles.items():
            got = assume_access(model, person, role, now=now)
            if got.can_assume or got.uncertain:
                key = keys.get((name, account), name)
                out.append(Reach(account, "role", key, tuple(str(s) for s in got.via) or ("uncertain",)))
    ic = spec.identity_center
    if ic is not None:
        groups = set(ic.groups_of(user))
        for account, ps in ic.access_of(user):
            via = [
                f"assignment to {'user' if a.principal_type == 'USER' else 'group'} {a.principal}"
                for a in ic.assignments
                if a.account == account
                and a.permission_set == ps
                and (a.principal == user if a.principal_type == "USER" else a.principal in groups)
            ]
            out.append(Reach(account, "permission_set", ps, tuple(via)))
    return tuple(out)


def offboarding_entry(user: str, at: datetime, reach: tuple[Reach, ...]) -> dict[str, Any]:
    """The `offboarded:` entry for `user` (iamlayer.spec.offboarded_validate reads it back)."""
    roles = role_refs(sorted({(r.name, r.account) for r in reach if r.kind == "role"}))
    sets = sorted({r.name for r in reach if r.kind == "permission_set"})
    entry: dict[str, Any] = {"user": user, "at": at_text(at), "roles": roles}
    if sets:
        entry["permission_sets"] = sets
    return entry


def _not_ours(spec_path: Path, user: str, message: str, hint: str) -> SpecError:
    text = spec_path.read_text(encoding="utf-8")
    found = re.search(rf"^\s+{re.escape(user)}\s*:", text, re.MULTILINE)
    line = text.count("\n", 0, found.start()) + 1 if found else None
    return SpecError([Diagnostic(str(spec_path), line, f"users.{user}", message, hint)])


def prepare(
    spec_path: Path,
    user: str,
    *,
    credentials: boto3.Session | str | None = None,
    now: datetime | None = None,
) -> tuple[Spec, Preview, str]:
    """The spec (resolved), the preview of offboarding `user`, and the spec text to write.
    Nothing is written; SpecError when `user` is not one iamlayer owns."""
    from iamlayer import api
    from iamlayer.aws.session import ApiStats
    from iamlayer.spec.edit import without_person
    from iamlayer.state.model import UserState

    spec = load_spec(spec_path)
    ic = spec.identity_center
    ic_user = ic is not None and user in ic.users and not ic.users[user].external
    if user not in spec.users and not ic_user:
        raise _not_ours(
            spec_path,
            user,
            f"no user {user!r} in the spec: iamlayer offboards only the users it manages",
            f"users: {', '.join(spec.users) or 'none'}",
        )
    spec = api.resolve_spec(spec, credentials=credentials)
    tags: dict[str, str] | None = None  # None: no IAM user of theirs in AWS, nothing to delete
    if user in spec.users:
        ctx = api._people_context(spec, credentials, ApiStats())
        with suppress(NotFoundError):  # never applied
            tags = ctx.iam.user_tags(user)
        if tags is not None and not UserState(name=user, tags=tags).owned_by(spec.project):
            raise _not_ours(
                spec_path,
                user,
                f"user {user} {ctx.where()} is not owned by iamlayer project {spec.project!r}",
                "iamlayer offboards only the users it made or adopted (tag iamlayer:project)",
            )
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    reach = reach_of(spec, user, now=at)
    entry = offboarding_entry(user, at, reach)
    text = without_person(spec_path.read_text(encoding="utf-8"), str(spec_path), user, entry)
    _check_edited(spec_path, text)
    unnamed = tuple(ref for ref in entry["roles"] if not names_sessions(spec, ref.partition("@")[0]))
    return spec, Preview(user, at, reach, entry, user in spec.users, ic_user, tags is not None, unnamed), text


def names_sessions(spec: Spec, role_key: str) -> bool:
    """Whether role `role_key`'s trust requires sessions named after the person."""
    from iamlayer.plan.desired import SESSION_NAMED_AFTER_USER, trust_policy

    wanted = SESSION_NAMED_AFTER_USER["StringEquals"]
    return any(
        st.get("Effect") == "Allow"
        and "sts:AssumeRole" in st.get("Action", [])
        and all(st.get("Condition", {}).get("StringEquals", {}).get(k) == [v] for k, v in wanted.items())
        for st in trust_policy(spec, spec.roles[role_key])["Statement"]
    )


def _check_edited(spec_path: Path, text: str) -> None:
    """The edited spec must load (a check or another reference may still name the person):
    else SpecError, with the file left as it is."""
    trial = spec_path.with_name(f".{spec_path.name}.offboard")
    try:
        trial.write_text(text, encoding="utf-8")
        load_spec(trial)
    except SpecError as exc:
        shown = [
            Diagnostic(str(spec_path), None, d.key, d.message, d.hint, d.severity)
            for d in exc.diagnostics
            if d.severity == "error"
        ]
        hint = "remove what still names the person from the spec, then run offboard again"
        raise SpecError(
            [*shown, Diagnostic(str(spec_path), None, "", "the spec without the user is not valid", hint)]
        ) from None
    finally:
        trial.unlink(missing_ok=True)


def revoke_sign_in_sessions(
    spec: Spec, user: str, credentials: boto3.Session | str | None
) -> tuple[Revoked | None, str | None]:
    """Revoke `user`'s `aws login` sessions; (what was revoked, None) or (None, why it failed).
    Not fatal: deleting the user ends what the sessions could do anyway."""
    from iamlayer import api
    from iamlayer.aws.gateways.signin import SigninGateway
    from iamlayer.aws.session import ApiStats

    if user not in spec.users:
        return None, "no IAM user: no sign-in session to revoke"
    arn = f"arn:aws:iam::{spec.people.id}:user{spec.users[user].path}{user}"
    try:
        clients = api._people_clients(spec, credentials, ApiStats())
        gateway = SigninGateway(clients.signin(spec.region), f"in account {spec.people_account}")
        return gateway.revoke_sessions(arn, f"iamlayer offboard {user}"), None
    except IamlayerError as exc:
        return None, str(exc)


def offboard(
    spec_path: str | Path,
    user: str,
    *,
    credentials: boto3.Session | str | None = None,
    confirm: Callable[[Preview, Plan], None] | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    on_change: Callable[[Change, str | None], None] | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    lock_timeout: float = 0.0,
) -> Offboarded:
    """Offboard `user` (see the module docstring).

    The edited spec is written, then planned as usual; `confirm(preview, plan)` runs before the
    first write to AWS and may raise (UserAbort): the spec is then put back as it was, and
    nothing is revoked or applied. The same happens when planning fails, or when an account's
    lock is still held by someone else after `lock_timeout` s (LockedError)."""
    from iamlayer import api
    from iamlayer.spec.edit import write_spec_text

    path = Path(spec_path)
    spec, preview, text = prepare(path, user, credentials=credentials, now=now)
    original = path.read_text(encoding="utf-8")
    revoked: list[tuple[Revoked | None, str | None]] = []

    def confirmed(plan: Plan) -> None:
        if confirm is not None:
            confirm(preview, plan)
        revoked.append(revoke_sign_in_sessions(spec, user, credentials))

    write_spec_text(path, text)
    try:
        applied = api.apply_plan(
            load_spec(path),
            credentials=credentials,
            on_plan=on_plan,
            confirm=confirmed,
            on_change=on_change,
            progress=progress,
            command="iamlayer offboard",
            lock_timeout=lock_timeout,
        )
    except BaseException:
        if not revoked:  # nothing was done in AWS: the spec goes back as it was
            write_spec_text(path, original)
        raise
    sessions, error = revoked[0] if revoked else (None, "not attempted: nothing was applied")
    return Offboarded(preview, applied, sessions, error, _actions(preview, applied, sessions, error))


def _actions(
    preview: Preview, applied: Applied, revoked: Revoked | None, revoke_error: str | None
) -> tuple[str, ...]:
    """What was done, one line each, in the order it happened."""
    user = preview.user
    out = [f"spec: removed users.{user} and their grants"] if preview.iam_user else []
    if preview.ic_user_removed:
        out.append(f"spec: removed identity_center.users.{user} and their memberships and assignments")
    out.append(f"spec: recorded offboarded: {{user: {user}, at: {preview.entry['at']}}}")
    if revoked is not None:
        out.append(f"revoked {len(revoked.revoked)} sign-in session(s) of {user}")
        out += [f"could not revoke sign-in session {s}: {e}" for s, e in revoked.errors]
    else:
        out.append(f"could not revoke the sign-in sessions of {user}: {revoke_error}")
    out += [
        f"warning: {ref}: its trust does not require sessions named after the person, so the Deny "
        f"misses her sessions there unless she named them {user}"
        for ref in preview.unnamed
    ]
    out += [f"{c.action.value} {c.address}" for c in applied.succeeded]
    out += [f"FAILED {f.change.address}: {f.error}" for f in applied.failed]
    return tuple(out)


def reach_by_account(reach: tuple[Reach, ...]) -> Mapping[str, list[Reach]]:
    """`reach` grouped by account, in the order found."""
    out: dict[str, list[Reach]] = {}
    for r in reach:
        out.setdefault(r.account, []).append(r)
    return out
