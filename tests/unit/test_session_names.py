"""Member-account sessions are named after the operator (issue 18, item 10): RoleSessionName and
SourceIdentity from the caller's ARN, in the characters AWS allows ([\\w+=,.@-], at most 64)."""

from __future__ import annotations

import pytest

from iamlayer.aws.accounts import member_session_name, source_identity

CASES = [
    ("arn:aws:iam::111111111111:user/jane.doe", "iamlayer-jane.doe", "jane.doe"),
    ("arn:aws:iam::111111111111:user/people/ops/jane.doe", "iamlayer-jane.doe", "jane.doe"),
    # IAM Identity Center names the role session after the person
    (
        "arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/jane@example.com",
        "iamlayer-jane@example.com",
        "jane@example.com",
    ),
    ("arn:aws:sts::111111111111:federated-user/ci bot", "iamlayer-ci-bot", "ci-bot"),
    ("arn:aws:iam::111111111111:root", "iamlayer-root", "root"),
    ("arn:aws:sts::111111111111:assumed-role/Deploy/j", "iamlayer-j", None),  # SourceIdentity: 2 at least
    ("arn:aws:sts::111111111111:assumed-role/Deploy/ñ~", "iamlayer", None),
]


@pytest.mark.parametrize(("arn", "session", "identity"), CASES)
def test_names_come_from_the_callers_arn(arn: str, session: str, identity: str | None) -> None:
    assert member_session_name(arn) == session
    assert source_identity(arn) == identity


def test_names_stay_within_64_characters() -> None:
    arn = "arn:aws:sts::111111111111:assumed-role/Deploy/" + "a" * 64
    assert member_session_name(arn) == "iamlayer-" + "a" * 55
    assert source_identity(arn) == "a" * 64
