"""The `backend:` block of the spec, durations, and the pure decisions about stale checkouts
(iamlayer.state.review). Unit tests: no AWS, no git."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from spec_support import MINIMAL, line_of, load_errors, only, write_spec

from iamlayer.plan.model import Action, Address, Change, Kind
from iamlayer.spec.backend_validate import format_duration, parse_duration
from iamlayer.spec.load import load_spec
from iamlayer.state import review
from iamlayer.state.backend import CreatedUser, LastApply

TWO = MINIMAL + '  shared: {id: "333333333333"}\npeople_account: security\n'


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("90m", 5400.0),
        ("5 m", None),
        ("5", None),
        ("1d", None),
        ("-5m", None),
    ],
)
def test_durations_are_written_30s_5m_1h(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_durations_are_shown_in_the_largest_unit_that_divides_them() -> None:
    assert [format_duration(s) for s in (30, 300, 3600, 5400, 90)] == ["30s", "5m", "1h", "90m", "90s"]


def test_no_backend_block_is_the_local_folder(tmp_path: Path) -> None:
    assert load_spec(write_spec(tmp_path, MINIMAL), check_keys=False).backend is None


def test_the_backend_block_as_the_issue_writes_it(tmp_path: Path) -> None:
    spec = load_spec(
        write_spec(
            tmp_path,
            TWO
            + "backend:\n  s3: {bucket: acme-iamlayer, prefix: identities, account: security, region: us-east-1,\n"
            + "       kms_key: alias/iamlayer}\n",
        ),
        check_keys=False,
    )
    b = spec.backend
    assert b is not None
    assert (b.bucket, b.prefix, b.account, b.region, b.kms_key, b.lock_lease) == (
        "acme-iamlayer", "identities", "security", "us-east-1", "alias/iamlayer", 300.0
    )  # fmt: skip
    assert b.line("bucket") == line_of(spec.path, "bucket:") and b.line("kms_key") == line_of(
        spec.path, "kms_key"
    )


def test_defaults_people_account_region_of_the_spec_and_no_kms(tmp_path: Path) -> None:
    spec = load_spec(
        write_spec(
            tmp_path, TWO + "region: eu-west-1\nbackend: {s3: {bucket: acme-state, lock_lease: 30s}}\n"
        ),
        check_keys=False,
    )
    b = spec.backend
    assert b is not None
    assert (b.prefix, b.account, b.region, b.kms_key, b.lock_lease) == (
        "iamlayer",
        "security",
        "eu-west-1",
        None,
        30.0,
    )


def test_every_wrong_field_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        TWO
        + "backend:\n"
        + "  s3:\n"
        + "    bucket: Acme_State\n"
        + "    account: secrity\n"
        + "    prefix: /lead/\n"
        + "    kms_key: my-key\n"
        + "    lock_lease: 2s\n"
        + "    colour: blue\n",
    )
    errors = load_errors(path)
    assert only(errors, "backend.s3.bucket").line == line_of(path, "bucket:")
    account = only(errors, "backend.s3.account")
    assert account.line == line_of(path, "account: secrity") and "did you mean 'security'" in (
        account.hint or ""
    )
    assert only(errors, "backend.s3.prefix").line == line_of(path, "prefix:")
    assert only(errors, "backend.s3.kms_key").line == line_of(path, "kms_key:")
    assert "out of range" in only(errors, "backend.s3.lock_lease").message
    colour = only(errors, "backend.s3.colour")
    assert colour.line == line_of(path, "colour:") and "unknown field 'colour'" in colour.message
    assert str(colour).startswith(f"{path}:{line_of(path, 'colour:')}: error: backend.s3.colour")


def test_a_backend_without_s3_or_bucket_says_what_is_missing(tmp_path: Path) -> None:
    errors = load_errors(write_spec(tmp_path, TWO + "backend: {local: {}}\n"))
    assert only(errors, "backend.local").message == "unknown field 'local'"
    assert only(errors, "backend.s3").message == "missing required field 's3'"
    errors = load_errors(write_spec(tmp_path, TWO + "backend: {s3: {prefix: x}}\n"))
    assert only(errors, "backend.s3.bucket").message == "missing required field 'bucket'"


# --- stale checkouts (iamlayer.state.review) ------------------------------------------------------

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
LAST = LastApply(
    digest="d2" * 32,
    commit="c2" * 20,
    by="arn:aws:iam::1:user/bob",
    host="bobs-laptop",
    at="2026-05-01T11:00:00+00:00",
)


def test_a_checkout_is_behind_when_its_spec_differs_and_its_history_lacks_the_commit() -> None:
    why = review.behind(LAST, "d1" * 32, has_commit=False)
    assert why is not None
    assert "arn:aws:iam::1:user/bob applied spec d2d2d2d2d2d2 from commit c2c2c2c2c2c2" in why
    assert "bobs-laptop at 2026-05-01T11:00:00+00:00" in why and "--allow-behind" in why
    assert "not a git checkout" in (review.behind(LAST, "d1" * 32, has_commit=None) or "")


@pytest.mark.parametrize(
    ("last", "digest", "has_commit"),
    [
        (None, "d1", False),  # nothing applied yet
        (LAST, "d2" * 32, False),  # the same spec: nothing would be undone
        (LAST, "d1" * 32, True),  # history holds the commit: this checkout is newer
        (LastApply("d2" * 32, None, "bob", "h", "t"), "d1" * 32, False),  # applied from outside git
    ],
)
def test_a_checkout_is_not_behind_otherwise(last: LastApply | None, digest: str, has_commit: bool) -> None:
    assert review.behind(last, digest, has_commit) is None


def _delete_user(name: str, account: str = "security") -> Change:
    return Change(Address(account, Kind.USER, name), Action.DELETE, before={"name": name})


def test_deleting_a_user_another_operator_created_today_is_flagged() -> None:
    last = LastApply(
        "d", "c", "bob", "h", "t",
        created=(
            CreatedUser("security", "new.hire", "bob", "2026-05-01T09:00:00+00:00"),
            CreatedUser("security", "old.hire", "bob", "2026-04-29T09:00:00+00:00"),  # over 24 h ago
            CreatedUser("security", "mine", "alice", "2026-05-01T09:00:00+00:00"),  # by me
        ),
    )  # fmt: skip
    changes = [_delete_user(n) for n in ("new.hire", "old.hire", "mine", "never.recorded")]
    changes.append(Change(Address("security", Kind.ACCESS_KEY, "new.hire", "AKIA1"), Action.DELETE))
    flagged = review.recent_foreign_deletions(changes, last, "alice", NOW)
    assert len(flagged) == 1 and "deletes user new.hire in security, created by bob's apply" in flagged[0]
    assert review.recent_foreign_deletions(changes, None, "alice", NOW) == []


def test_the_record_keeps_the_last_24_hours_of_created_users() -> None:
    prev = LastApply(
        "d1", "c1", "bob", "h", "t",
        created=(CreatedUser("security", "a", "bob", (NOW - timedelta(hours=2)).isoformat()),
                 CreatedUser("security", "b", "bob", (NOW - timedelta(hours=25)).isoformat())),
    )  # fmt: skip
    rec = review.next_record(
        prev,
        digest="d2",
        commit=None,
        by="alice",
        host="h2",
        now=NOW,
        accounts=["security"],
        created=[("security", "c")],
    )
    assert (rec.digest, rec.commit, rec.by, rec.at) == ("d2", None, "alice", NOW.isoformat())
    assert [(c.user, c.by) for c in rec.created] == [("a", "bob"), ("c", "alice")]
    assert LastApply.from_json(rec.to_json()) == rec


def test_the_tls_only_statement_is_added_to_the_bucket_policy_once_keeping_the_others() -> None:
    from iamlayer.aws.s3_backend import TLS_SID, with_tls_only

    theirs = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Theirs",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::1:root"},
                "Action": "s3:GetObject",
                "Resource": "*",
            }
        ],
    }
    policy = with_tls_only(theirs, "acme-state")
    assert policy is not None
    assert [s["Sid"] for s in policy["Statement"]] == ["Theirs", TLS_SID]
    deny = policy["Statement"][1]
    assert deny == {
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::acme-state", "arn:aws:s3:::acme-state/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert with_tls_only(policy, "acme-state") is None  # there already: nothing to write
    assert with_tls_only(None, "acme-state") == {"Version": "2012-10-17", "Statement": [deny]}
