"""CreateAccessKey answered with a 5xx: what iamlayer does next, call by call (botocore's Stubber).

The Stubber answers as AWS does where moto cannot: the lost call's key shows in ListAccessKeys
only after a while (IAM's eventual consistency), or not within the bound at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from iamlayer.apply.credentials import issue_access_key
from iamlayer.apply.handlers import HandlerContext
from iamlayer.plan.diff import SecretIntent, diff
from iamlayer.secrets.keys import PublicKey
from iamlayer.state.model import AccessKey, AccountState, UserState
from iamlayer.state.records import KeyCreation

ACCOUNT = "222222222222"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def listed(stub: Stubber, *ids: str, created: datetime = T0) -> None:
    keys = [{"UserName": "ci", "AccessKeyId": i, "Status": "Active", "CreateDate": created} for i in ids]
    stub.add_response(
        "list_access_keys", {"AccessKeyMetadata": keys, "IsTruncated": False}, {"UserName": "ci"}
    )


def lost(stub: Stubber) -> None:
    stub.add_client_error(
        "create_access_key", "ServiceFailure", "internal", 500, expected_params={"UserName": "ci"}
    )


def made(stub: Stubber, key_id: str) -> None:
    stub.add_response(
        "create_access_key",
        {
            "AccessKey": {
                "UserName": "ci",
                "AccessKeyId": key_id,
                "Status": "Active",
                "SecretAccessKey": SECRET,
            }
        },
        {"UserName": "ci"},
    )


def test_the_lost_calls_key_is_found_once_iam_shows_it_deleted_and_the_create_sent_again(
    handler_ctx: HandlerContext, iam_stub: Stubber, pgp_key: PublicKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "5")
    listed(iam_stub, "AKIAOLDKEY0000000001")  # before: the key the user already has
    lost(iam_stub)
    listed(iam_stub, "AKIAOLDKEY0000000001")  # IAM does not show the new key yet...
    listed(iam_stub, "AKIAOLDKEY0000000001", "AKIALOSTKEY000000002")  # ...then it does
    iam_stub.add_response("delete_access_key", {}, {"UserName": "ci", "AccessKeyId": "AKIALOSTKEY000000002"})
    made(iam_stub, "AKIANEWKEY0000000003")
    key_id, path = issue_access_key(handler_ctx, "ci", pgp_key)
    assert key_id == "AKIANEWKEY0000000003" and path.exists()
    assert handler_ctx.journal.pending("access_keys", "security") == frozenset()


def test_when_no_key_shows_the_journal_stays_open_with_the_keys_from_before(
    handler_ctx: HandlerContext, iam_stub: Stubber, pgp_key: PublicKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "0")
    listed(iam_stub, "AKIAOLDKEY0000000001")
    lost(iam_stub)
    listed(iam_stub, "AKIAOLDKEY0000000001")  # nothing within the bound
    made(iam_stub, "AKIANEWKEY0000000003")
    issue_access_key(handler_ctx, "ci", pgp_key)
    [(user, creation)] = handler_ctx.journal.key_creations("security").items()
    assert user == "ci" and creation.before == frozenset({"AKIAOLDKEY0000000001"})
    assert creation.at is not None and abs(creation.at - datetime.now(UTC)) < timedelta(minutes=1)


def test_an_earlier_unfinished_creations_key_is_not_counted_as_before(
    handler_ctx: HandlerContext, iam_stub: Stubber, pgp_key: PublicKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run died after CreateAccessKey; the next one's create must not take that key for the
    user's own: when its own answer is lost, that orphan is found and deleted too."""
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "0")
    handler_ctx.journal.begin_key_creation("security", "ci", frozenset())
    just_now = datetime.now(UTC)
    listed(iam_stub, "AKIALOSTKEY000000002", created=just_now)
    lost(iam_stub)
    listed(iam_stub, "AKIALOSTKEY000000002", created=just_now)
    iam_stub.add_response("delete_access_key", {}, {"UserName": "ci", "AccessKeyId": "AKIALOSTKEY000000002"})
    made(iam_stub, "AKIANEWKEY0000000003")
    issue_access_key(handler_ctx, "ci", pgp_key)
    assert handler_ctx.journal.pending("access_keys", "security") == frozenset()


def test_three_unknown_outcomes_give_up_leaving_the_journal_open(
    handler_ctx: HandlerContext, iam_stub: Stubber, pgp_key: PublicKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "0")
    listed(iam_stub)
    for _ in range(3):
        lost(iam_stub)
        listed(iam_stub)
    from iamlayer.errors import ApplyError

    with pytest.raises(ApplyError, match="outcome stayed unknown after 3 attempts"):
        issue_access_key(handler_ctx, "ci", pgp_key)
    assert handler_ctx.journal.pending("access_keys", "security") == frozenset({"ci"})


def keys_plan(live: tuple[AccessKey, ...], issued: set[str], creation: KeyCreation | None) -> list[str]:
    want = UserState(
        "ci", tags={"iamlayer:project": "acme"}, login_profile=False, access_keys=(AccessKey("", True),)
    )
    have = UserState("ci", tags={"iamlayer:project": "acme"}, login_profile=False, access_keys=live)
    r = diff(
        "security",
        "acme",
        AccountState(ACCOUNT, users={"ci": want}),
        AccountState(ACCOUNT, users={"ci": have}),
        secret_intents={"ci": SecretIntent("/k", "FPR")},
        issued_keys={"ci": frozenset(issued)},
        keys_in_flight={"ci": creation} if creation else {},
    )
    return [f"{c.action.value} {c.address.sub}".strip() for c in r.changes] + [
        f"note {n.split(' have ')[0]}" for n in r.notices
    ]


def test_a_late_key_of_an_open_creation_is_deleted_and_a_later_hand_made_one_is_not() -> None:
    creation = KeyCreation(before=frozenset({"AKIAOLD"}), at=T0)
    old = AccessKey("AKIAOLD", True, (T0 - timedelta(days=30)).isoformat())
    ours = AccessKey("AKIAOURS", True, T0.isoformat())
    late = AccessKey("AKIALATE", True, (T0 + timedelta(seconds=40)).isoformat())
    by_hand = AccessKey("AKIAHAND", True, (T0 + timedelta(days=2)).isoformat())
    assert keys_plan((old, ours, late), {"AKIAOURS"}, creation) == [
        "delete AKIALATE",
        "note user ci: access key(s) AKIAOLD",
    ]
    assert keys_plan((ours, by_hand), {"AKIAOURS"}, creation) == ["note user ci: access key(s) AKIAHAND"]
    # a journal written before entries had details: every unrecorded key is the creation's
    assert keys_plan((ours, by_hand), {"AKIAOURS"}, KeyCreation()) == ["delete AKIAHAND"]
