"""Password generation against password policies, checked by many generations."""

from __future__ import annotations

import string

import pytest

from iamlayer.secrets.passwords import AWS_SYMBOLS, check_password, generate_password
from iamlayer.spec.model import PASSWORD_CLASSES, PasswordPolicy

POLICIES = [
    None,
    PasswordPolicy(),
    PasswordPolicy(minimum_length=6, require=frozenset()),
    PasswordPolicy(minimum_length=30, require=frozenset({"upper", "lower", "numbers", "symbols"})),
    PasswordPolicy(minimum_length=64, require=frozenset({"symbols"})),
    PasswordPolicy(minimum_length=128, require=frozenset({"numbers", "lower"})),
]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: "none" if p is None else f"min{p.minimum_length}")
def test_many_generated_passwords_meet_the_policy_and_hold_every_class(policy: PasswordPolicy | None) -> None:
    seen: set[str] = set()
    for _ in range(500):
        pw = generate_password(policy)
        assert check_password(policy, pw) == []
        assert len(pw) == max(30, policy.minimum_length if policy else 0)
        assert any(c in string.ascii_uppercase for c in pw)
        assert any(c in string.ascii_lowercase for c in pw)
        assert any(c in string.digits for c in pw)
        assert any(c in AWS_SYMBOLS for c in pw)
        assert set(pw) <= set(string.ascii_letters + string.digits + AWS_SYMBOLS)
        seen.add(pw)
    assert len(seen) == 500  # no repeats: the generator is random, not seeded


def test_length_is_the_larger_of_request_and_policy_minimum() -> None:
    assert len(generate_password(PasswordPolicy(minimum_length=14), 20)) == 20
    assert len(generate_password(PasswordPolicy(minimum_length=40), 20)) == 40
    assert len(generate_password(None, 8)) == 8


@pytest.mark.parametrize("length", [5, 129])
def test_length_outside_iam_limits_is_refused(length: int) -> None:
    with pytest.raises(ValueError, match="outside IAM's limits"):
        generate_password(None, length)


def test_symbols_are_the_set_aws_counts() -> None:
    assert AWS_SYMBOLS == "!@#$%^&*()_+-=[]{}|'"
    # Every symbol shows up eventually: the whole set is in use, not a subset.
    drawn = set("".join(generate_password(None, 128) for _ in range(200)))
    assert set(AWS_SYMBOLS) <= drawn


def test_check_password_names_each_problem_without_echoing_the_password() -> None:
    policy = PasswordPolicy(minimum_length=12, require=frozenset(PASSWORD_CLASSES))
    problems = check_password(policy, "abcdef")
    assert problems == [
        "shorter than 12 characters (6)",
        "has no numbers character (the policy requires one)",
        "has no symbols character (the policy requires one)",
        "has no upper character (the policy requires one)",
    ]
    assert check_password(policy, "Abcdefgh1234~") == ["has no symbols character (the policy requires one)"]
    assert check_password(policy, "Abcdefgh123!\té") == [
        "contains 2 character(s) IAM does not accept (non-printable or not ASCII)"
    ]
    assert check_password(None, "x" * 129) == ["longer than 128 characters (129)"]
