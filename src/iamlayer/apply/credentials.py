"""Handlers for the secrets-bearing resources: login profiles and access keys.

A password exists in plaintext only in this process's memory, on its way to encryption: the
ciphertext is staged on disk (fsynced) before CreateLoginProfile makes it live, and promoted after
(see iamlayer.secrets.outbox). An access key's secret comes back from CreateAccessKey and is
encrypted and written at once; the planner notices a key with no ciphertext on record.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from iamlayer.apply.handlers import (
    CREATE_ATTEMPTS,
    DEFAULT_PASSWORD_LENGTH,
    HandlerContext,
    handles,
)
from iamlayer.aws.errors import surely_not_applied
from iamlayer.aws.read import access_key
from iamlayer.aws.retry import Backoff, consistency_timeout
from iamlayer.errors import AlreadyExistsError, ApplyError, AwsError
from iamlayer.plan.model import Action, Change, Kind
from iamlayer.secrets.keys import PublicKey, load_public_key
from iamlayer.secrets.passwords import generate_password
from iamlayer.spec.model import PasswordPolicy
from iamlayer.state.model import AccessKey


def _key(ch: Change) -> PublicKey:
    a = ch.after or {}
    key = load_public_key(Path(a["pgp_key"]))
    if key.fingerprint != a["fingerprint"]:
        raise ApplyError(
            f"{ch.address}: the key file {a['pgp_key']} changed since the plan was made "
            f"(planned {a['fingerprint']}, now {key.fingerprint}); make a new plan"
        )
    return key


def password_policy_from(d: dict[str, Any] | None) -> PasswordPolicy | None:
    if not d:
        return None
    return PasswordPolicy(**{**d, "require": frozenset(d.get("require", ()))})


def issue_password(
    ctx: HandlerContext,
    user: str,
    key: PublicKey,
    policy: PasswordPolicy | None,
    *,
    reset_required: bool,
    replace: bool,
) -> Path:
    """Generate, stage the ciphertext, make it live in AWS, promote the ciphertext. Returns its path.

    CreateLoginProfile is sent without SDK retries (IamGateway.create_login_profile). After an
    answer that was lost (timeout, dropped connection, 5xx) it is sent again with the same password,
    so an EntityAlreadyExists then means the lost attempt went through with this very password.
    UpdateLoginProfile sets the same password however often it is sent, so botocore may retry it.
    """
    password = generate_password(policy, DEFAULT_PASSWORD_LENGTH)
    staged = ctx.outbox.stage_password(ctx.account, user, key, password)
    unknown = 0
    while True:
        try:
            if replace:
                ctx.iam.update_login_profile(user, password, reset_required=reset_required)
            else:
                ctx.iam.create_login_profile(user, password, reset_required=reset_required)
            break
        except AlreadyExistsError as exc:
            if unknown:
                break  # our attempt whose answer was lost made this password live
            # Before any attempt of ours: the user already had a console password.
            ctx.outbox.discard(staged)
            final = staged.final_path
            if final.exists():
                return Path(final)  # ours, from an earlier apply that IAM had not shown the plan yet
            raise ApplyError(
                f"{exc}. The user has a console password that iamlayer did not set (made by hand since "
                f"the plan?); it was left as it is. To issue one encrypted to their key: "
                f"iamlayer password reset {user}"
            ) from exc
        except AwsError as exc:
            if surely_not_applied(exc) and not unknown:
                ctx.outbox.discard(staged)
                raise
            # An earlier attempt of ours may have made the password live, whatever this one says.
            unknown += 1
            if replace or unknown == CREATE_ATTEMPTS or surely_not_applied(exc):
                # The password may be live: keep the ciphertext as pending; the next apply settles it.
                raise ApplyError(
                    f"{exc}. The call's outcome is unknown, so its encrypted password is kept "
                    f"({staged.path}); run `iamlayer apply` again to settle it"
                ) from exc
    return Path(ctx.outbox.commit(staged))


def settle_staged_password(ctx: HandlerContext, user: str) -> Path | None:
    """Settle the password an interrupted apply staged for `user`, if any, by asking AWS.

    A live login profile (and no committed password beside the staged one) means the staged one is
    the live password: it is promoted, and its path returned. "No login profile" may be a stale
    read under IAM's eventual consistency, while the lost CreateLoginProfile's write is on its way:
    the staged password is discarded only once it is older than the consistency bound and AWS
    still says none (waiting, bounded, until it is). Returns None when there is no live password.
    """
    pending = ctx.outbox.pending_password(ctx.account, user)
    if pending is None:
        return None
    where = f"user {user} {ctx.where()}"
    bound = consistency_timeout()
    backoff = Backoff(max(bound - _age(pending.path), 0.0), first=1, cap=8)
    while not ctx.iam.has_login_profile(user):
        if not backoff.wait():
            ctx.outbox.discard(pending)  # staged before a CreateLoginProfile that never happened
            return None
    if pending.final_path.exists():
        raise ApplyError(
            f"{where}: a password reset was interrupted, so the live password may be the staged "
            f"{pending.path.name} or {pending.final_path.name}; iamlayer cannot tell which. Issue a "
            f"new one: iamlayer password reset {user}"
        )
    return Path(ctx.outbox.commit(pending))


def _age(path: Path) -> float:
    try:
        return max(time.time() - path.stat().st_mtime, 0.0)
    except FileNotFoundError:
        return 0.0


@handles(Kind.STAGED_PASSWORD, Action.UPDATE, Action.DELETE, permissions=("iam:GetLoginProfile",))
def settle_staged(ctx: HandlerContext, ch: Change) -> None:
    """Promote or discard a staged password: the plan's action is what it expected, AWS decides."""
    settle_staged_password(ctx, ch.address.name)


@handles(
    Kind.LOGIN_PROFILE,
    Action.CREATE,
    permissions=("iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:GetLoginProfile"),
)
def create_login_profile(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after or {}
    if settle_staged_password(ctx, ch.address.name):
        return  # an interrupted apply made it live, and its ciphertext is now the committed one
    issue_password(
        ctx,
        ch.address.name,
        _key(ch),
        password_policy_from(a.get("password_policy")),
        reset_required=bool(a.get("password_reset_required", True)),
        replace=False,
    )


@handles(Kind.LOGIN_PROFILE, Action.DELETE, permissions=("iam:DeleteLoginProfile",))
def delete_login_profile(ctx: HandlerContext, ch: Change) -> None:
    # The ciphertext goes first. Killed in between, AWS still has the password and the next plan
    # deletes it again; the other way round, the ciphertext of a password that no longer exists
    # would stay, unseen by any plan (the user has no login profile, as the spec asks).
    ctx.outbox.forget_password(ctx.account, ch.address.name)
    ctx.iam.delete_login_profile(ch.address.name)


def issue_access_key(ctx: HandlerContext, user: str, key: PublicKey) -> tuple[str, Path]:
    """CreateAccessKey, then encrypt and store its secret at once. Returns (key id, file).

    Journaled around the call with the user's key ids before it (see iamlayer.state.journal): if
    the process dies before the ciphertext is written, the next plan knows the unreadable key is
    iamlayer's and replaces it. The call is sent without SDK retries (IamGateway.create_access_key):
    - AWS surely refused it: nothing was made, the journal entry is closed, the error raised;
    - its answer was lost (timeout, dropped connection, 5xx): AWS may have made a key whose
      secret nobody will ever read. Wait (bounded) for it to show in ListAccessKeys, delete it,
      and send the create again. If none shows, send it again and keep the journal entry open, so
      the next plan deletes a key that shows late. There is never more than one such key.
    """
    # A key an earlier, unfinished creation may have made stays an orphan: it is not "before".
    earlier = ctx.journal.key_creations(ctx.account).get(user)
    held = ctx.outbox.access_key_ids(ctx.account, user)
    before = frozenset(
        k.id for k in _keys(ctx, user) if k.id in held or earlier is None or not earlier.may_have_made(k)
    )
    ctx.journal.begin_key_creation(ctx.account, user, before)
    unknown, unresolved = 0, False
    while True:
        try:
            created = ctx.iam.create_access_key(user)
            break
        except AwsError as exc:
            if surely_not_applied(exc):
                if not unknown:
                    ctx.journal.end("access_keys", ctx.account, user)  # nothing was made
                raise
            unknown += 1
            orphan = _wait_for_orphan(ctx, user, before)
            if orphan:
                ctx.iam.delete_access_key(user, orphan, ", made by a lost call")
            else:
                unresolved = True
            if unknown == CREATE_ATTEMPTS:
                raise ApplyError(
                    f"{exc}. The outcome stayed unknown after {unknown} attempts; run `iamlayer apply` "
                    "again: it removes any key these attempts made"
                ) from exc
            ctx.journal.begin_key_creation(ctx.account, user, before)  # the attempt's time
    key_id = str(created["AccessKeyId"])
    try:
        path = ctx.outbox.store_access_key(ctx.account, user, key, key_id, created["SecretAccessKey"])
    except BaseException:
        # A live key whose secret nobody can read is worse than none: take it back.
        ctx.iam.delete_access_key(user, key_id, " after a failed write")
        raise
    finally:
        created.pop("SecretAccessKey", None)  # type: ignore[misc]
    if not unresolved:
        ctx.journal.end("access_keys", ctx.account, user)
    return key_id, Path(path)


def _keys(ctx: HandlerContext, user: str) -> list[AccessKey]:
    # NoSuchEntity right after the user was made (IAM's reads lag behind its writes): the key's
    # create starts as soon as the user's succeeded (iamlayer.apply.graph).
    return [access_key(k) for k in ctx.iam.access_keys(user, just_created=True)]


def _wait_for_orphan(ctx: HandlerContext, user: str, before: frozenset[str]) -> str | None:
    """A key of `user` that is neither in `before` nor on record in the outbox, once IAM shows one
    (within the consistency bound); None if none shows."""
    backoff = Backoff(consistency_timeout(), first=1, cap=8)
    while True:
        new: list[str] = sorted(
            {k.id for k in _keys(ctx, user)} - before - ctx.outbox.access_key_ids(ctx.account, user)
        )
        if new:
            return new[0]
        if not backoff.wait():
            return None


@handles(
    Kind.ACCESS_KEY,
    Action.CREATE,
    permissions=("iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys"),
)
def create_access_key(ctx: HandlerContext, ch: Change) -> None:
    issue_access_key(ctx, ch.address.name, _key(ch))


@handles(Kind.ACCESS_KEY, Action.DELETE, permissions=("iam:DeleteAccessKey",))
def delete_access_key(ctx: HandlerContext, ch: Change) -> None:
    retire_access_key(ctx, ch.address.name, (ch.before or {})["access_key_id"])


def retire_access_key(ctx: HandlerContext, user: str, key_id: str) -> None:
    """Delete an access key in AWS (gone already is fine), then its ciphertext."""
    ctx.iam.delete_access_key(user, key_id)
    ctx.outbox.forget_access_key(ctx.account, user, key_id)
    ctx.journal.end("access_keys", ctx.account, user)  # an unfinished creation is settled
