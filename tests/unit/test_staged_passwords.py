"""Passwords an interrupted apply staged: what the plan says (pure diff), what apply does (Stubber).

The Stubber answers GetLoginProfile as IAM does under eventual consistency, where moto cannot:
"no login profile" for a while after CreateLoginProfile went through.
"""

from __future__ import annotations

import os
import time

import pytest
from botocore.stub import Stubber

from iamlayer.apply.credentials import issue_password, settle_staged_password
from iamlayer.apply.handlers import HandlerContext
from iamlayer.errors import ApplyError, AwsError
from iamlayer.plan.diff import diff
from iamlayer.secrets.keys import PublicKey
from iamlayer.secrets.outbox import Outbox, StagedSecret
from iamlayer.state.model import AccountState, UserState

OWN = {"iamlayer:project": "acme"}


def user(name: str, console: bool, owned: bool = True) -> UserState:
    return UserState(name, tags=dict(OWN) if owned else {}, login_profile=console, access_keys=())


def staged_plan(
    desired: dict[str, UserState], live: dict[str, UserState], staged: dict[str, bool]
) -> list[str]:
    r = diff(
        "security",
        "acme",
        AccountState("222222222222", users=desired),
        AccountState("222222222222", users=live),
        staged_passwords=staged,
    )
    return [f"{c.action.value} {c.address.kind.value}.{c.address.name}" for c in r.changes] + [
        f"note {n[:40]}" for n in r.notices
    ]


def test_the_plan_says_how_each_staged_password_will_be_settled() -> None:
    # live, and no committed file: the staged one is the live password
    assert staged_plan({"a": user("a", True)}, {"a": user("a", True)}, {"a": False}) == [
        "update staged_password.a"
    ]
    # not live, console wanted: the login profile's create settles it first, nothing else
    assert staged_plan({"a": user("a", True)}, {"a": user("a", False)}, {"a": False}) == [
        "create login_profile.a"
    ]
    # not live, no console wanted; or the user is gone from AWS and from the spec: discarded
    assert staged_plan({"a": user("a", False)}, {"a": user("a", False)}, {"a": False}) == [
        "delete staged_password.a"
    ]
    assert staged_plan({}, {}, {"a": False}) == ["delete staged_password.a"]
    # live, and a committed file too: an interrupted reset, which only a new reset can settle
    assert staged_plan({"a": user("a", True)}, {"a": user("a", True)}, {"a": True}) == [
        "note a password reset of a was interrupted, s"
    ]
    # the user is being deleted (its files go with it), or is not ours: nothing of its own
    assert staged_plan({}, {"a": user("a", True)}, {"a": False}) == ["delete user.a"]
    assert staged_plan({}, {"a": user("a", True, owned=False)}, {"a": False}) == []


@pytest.fixture
def staged(handler_ctx: HandlerContext, pgp_key: PublicKey) -> StagedSecret:
    outbox: Outbox = handler_ctx.outbox
    return outbox.stage_password("security", "jane", pgp_key, "Pw-1234567890")


def no_profile(stub: Stubber) -> None:
    stub.add_client_error(
        "get_login_profile", "NoSuchEntity", "none", 404, expected_params={"UserName": "jane"}
    )


def profile(stub: Stubber) -> None:
    stub.add_response(
        "get_login_profile",
        {"LoginProfile": {"UserName": "jane", "CreateDate": "2026-01-01T00:00:00Z"}},
        {"UserName": "jane"},
    )


def test_a_live_password_iam_shows_late_is_promoted_not_lost(
    handler_ctx: HandlerContext, iam_stub: Stubber, staged: StagedSecret, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "30")
    no_profile(iam_stub)  # a stale read: the lost CreateLoginProfile went through
    profile(iam_stub)
    assert settle_staged_password(handler_ctx, "jane") == staged.final_path
    assert staged.final_path.exists() and not staged.path.exists()


def test_a_staged_password_aws_never_shows_is_discarded_once_older_than_the_bound(
    handler_ctx: HandlerContext, iam_stub: Stubber, staged: StagedSecret, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "1.5")
    for _ in range(3):  # now, after 1 s, and at 1.5 s: the file's age reaches the bound
        no_profile(iam_stub)
    t0 = time.monotonic()
    assert settle_staged_password(handler_ctx, "jane") is None
    assert time.monotonic() - t0 >= 1.4
    assert not staged.path.exists() and not staged.final_path.exists()


def test_an_old_staged_password_is_settled_without_waiting(
    handler_ctx: HandlerContext, iam_stub: Stubber, staged: StagedSecret, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "60")
    an_hour_ago = time.time() - 3600
    os.utime(staged.path, (an_hour_ago, an_hour_ago))
    no_profile(iam_stub)
    t0 = time.monotonic()
    assert settle_staged_password(handler_ctx, "jane") is None
    assert time.monotonic() - t0 < 1 and not staged.path.exists()


def test_a_refusal_after_a_lost_answer_keeps_the_staged_password(
    handler_ctx: HandlerContext, iam_stub: Stubber, pgp_key: PublicKey
) -> None:
    """The first CreateLoginProfile's answer was lost (it may have made the password live); the
    second is refused. The ciphertext stays staged for the next apply to settle, never dropped."""
    iam_stub.add_client_error("create_login_profile", "ServiceFailure", "internal", 500)
    iam_stub.add_client_error("create_login_profile", "AccessDenied", "not allowed", 403)
    with pytest.raises(ApplyError, match="encrypted password is kept"):
        issue_password(handler_ctx, "jane", pgp_key, None, reset_required=True, replace=False)
    [pending] = handler_ctx.outbox.pending_passwords()
    assert pending.user == "jane" and pending.path.exists()


def test_a_first_refusal_drops_the_staged_password(
    handler_ctx: HandlerContext, iam_stub: Stubber, pgp_key: PublicKey
) -> None:
    iam_stub.add_client_error("create_login_profile", "AccessDenied", "not allowed", 403)
    with pytest.raises(AwsError, match="AccessDenied"):
        issue_password(handler_ctx, "jane", pgp_key, None, reset_required=True, replace=False)
    assert handler_ctx.outbox.pending_passwords() == []
