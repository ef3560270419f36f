"""Handlers for the secrets-bearing resources: login profiles and access keys.

A password exists in plaintext only in this process's memory, on its way to encryption: the
ciphertext is staged on disk (fsynced) before CreateLoginProfile makes it live, and promoted after
(see iamlayer.secrets.outbox). An access key's secret comes back from CreateAccessKey and is
encrypted and written at once; the planner notices a key with no ciphertext on record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iamlayer.apply.handlers import DEFAULT_PASSWORD_LENGTH, HandlerContext, gone_is_fine, handles
from iamlayer.aws.errors import aws_call, surely_not_applied
from iamlayer.aws.retry import settle
from iamlayer.errors import ApplyError, AwsError
from iamlayer.plan.model import Action, Change, Kind
from iamlayer.secrets.keys import PublicKey, load_public_key
from iamlayer.secrets.passwords import generate_password
from iamlayer.spec.model import PasswordPolicy


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
    """Generate, stage the ciphertext, make it live in AWS, promote the ciphertext. Returns its path."""
    password = generate_password(policy, DEFAULT_PASSWORD_LENGTH)
    staged = ctx.outbox.stage_password(ctx.account, user, key, password)
    try:
        with aws_call(
            f"{'resetting' if replace else 'creating'} the console password of user {user} {ctx.where()}"
        ):
            if replace:
                settle(
                    lambda: ctx.iam.update_login_profile(
                        UserName=user, Password=password, PasswordResetRequired=reset_required
                    )
                )
            else:
                settle(
                    lambda: ctx.iam.create_login_profile(
                        UserName=user, Password=password, PasswordResetRequired=reset_required
                    ),
                    not_found_too=True,
                )
    except AwsError as exc:
        if not surely_not_applied(exc):
            # The password may be live (a retried request answered EntityAlreadyExists, a timeout
            # after sending): keep the ciphertext as pending; the next plan settles it with AWS.
            raise ApplyError(
                f"{exc}. The call's outcome is unknown, so its encrypted password is kept "
                f"({staged.path}); run `iamlayer plan` or `apply` again to settle it"
            ) from exc
        ctx.outbox.discard(staged)
        raise
    return Path(ctx.outbox.commit(staged))


@handles(Kind.LOGIN_PROFILE, Action.CREATE, permissions=("iam:CreateLoginProfile", "iam:UpdateLoginProfile"))
def create_login_profile(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after or {}
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
    with gone_is_fine(), aws_call(f"deleting the console password of user {ch.address.name} {ctx.where()}"):
        ctx.iam.delete_login_profile(UserName=ch.address.name)
    ctx.outbox.forget_password(ctx.account, ch.address.name)


def issue_access_key(ctx: HandlerContext, user: str, key: PublicKey) -> tuple[str, Path]:
    """CreateAccessKey, then encrypt and store its secret at once. Returns (key id, file).

    Journaled around the call (see iamlayer.state.journal): if the process dies before the
    ciphertext is written, the next plan knows the unreadable key is iamlayer's and replaces it.
    """
    ctx.journal.begin("access_keys", ctx.account, user)
    with aws_call(f"creating an access key for user {user} {ctx.where()}"):
        created = settle(lambda: ctx.iam.create_access_key(UserName=user), not_found_too=True)["AccessKey"]
    key_id = str(created["AccessKeyId"])
    try:
        path = ctx.outbox.store_access_key(ctx.account, user, key, key_id, created["SecretAccessKey"])
    except BaseException:
        # A live key whose secret nobody can read is worse than none: take it back.
        with gone_is_fine(), aws_call(f"deleting access key {key_id} of user {user} after a failed write"):
            ctx.iam.delete_access_key(UserName=user, AccessKeyId=key_id)
        raise
    finally:
        created.pop("SecretAccessKey", None)
    ctx.journal.end("access_keys", ctx.account, user)
    return key_id, Path(path)


@handles(Kind.ACCESS_KEY, Action.CREATE, permissions=("iam:CreateAccessKey", "iam:DeleteAccessKey"))
def create_access_key(ctx: HandlerContext, ch: Change) -> None:
    issue_access_key(ctx, ch.address.name, _key(ch))


@handles(Kind.ACCESS_KEY, Action.DELETE, permissions=("iam:DeleteAccessKey",))
def delete_access_key(ctx: HandlerContext, ch: Change) -> None:
    retire_access_key(ctx, ch.address.name, (ch.before or {})["access_key_id"])


def retire_access_key(ctx: HandlerContext, user: str, key_id: str) -> None:
    """Delete an access key in AWS (gone already is fine), then its ciphertext."""
    with gone_is_fine(), aws_call(f"deleting access key {key_id} of user {user} {ctx.where()}"):
        ctx.iam.delete_access_key(UserName=user, AccessKeyId=key_id)
    ctx.outbox.forget_access_key(ctx.account, user, key_id)
    ctx.journal.end("access_keys", ctx.account, user)  # an unfinished creation is settled
