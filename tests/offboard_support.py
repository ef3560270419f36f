"""The policy an offboarding renders, written out by hand: what the tests expect iamlayer to write."""

from __future__ import annotations

from typing import Any

from iamlayer.state.normalize import normalize


def session_deny(user: str, at: str) -> dict[str, Any]:
    """The `iamlayer-offboarded` policy of a role `user` could assume, offboarded at `at`: every
    action denied to sessions named after them issued before `at`."""
    sid = "Offboarded" + "".join(c for c in user if c.isalnum())
    return normalize(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": sid,
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {
                        "StringLike": {"aws:userid": f"*:{user}"},
                        "DateLessThan": {"aws:TokenIssueTime": at},
                    },
                }
            ],
        }
    )
