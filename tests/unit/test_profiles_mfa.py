"""The TOTP check enrolment makes before sending codes to AWS (RFC 6238 vectors, skew, bad seeds)."""

from __future__ import annotations

import base64

from iamlayer.profiles.mfa import TOTP_SKEW_STEPS, TOTP_STEP, codes_match_seed, totp_code

# RFC 6238 appendix B, SHA-1: the ASCII key "12345678901234567890", 8-digit codes cut to 6.
RFC_SEED = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = {59: "287082", 1111111109: "081804", 1234567890: "005924", 2000000000: "279037"}


def test_codes_are_rfc_6238() -> None:
    for t, code in RFC_VECTORS.items():
        assert totp_code(RFC_SEED, t // TOTP_STEP) == code


def test_two_consecutive_codes_match_within_the_skew_only() -> None:
    now = 1_700_000_000.0
    step = int(now // TOTP_STEP)
    for offset in (-TOTP_SKEW_STEPS, 0, TOTP_SKEW_STEPS):
        a, b = totp_code(RFC_SEED, step + offset), totp_code(RFC_SEED, step + offset + 1)
        assert codes_match_seed(RFC_SEED, a, b, now) is True
    far = step + TOTP_SKEW_STEPS + 5
    assert codes_match_seed(RFC_SEED, totp_code(RFC_SEED, far), totp_code(RFC_SEED, far + 1), now) is False
    a, b = totp_code(RFC_SEED, step), totp_code(RFC_SEED, step + 1)
    assert codes_match_seed(RFC_SEED, b, a, now) is False  # the wrong order
    assert codes_match_seed(RFC_SEED, a, a, now) is False
    # A seed in lower case or without padding (as some emulators hand out) is the same seed.
    assert codes_match_seed(RFC_SEED.lower().rstrip("="), a, b, now) is True


def test_a_seed_that_is_not_base32_leaves_the_check_to_aws() -> None:
    assert codes_match_seed("not base32!", "123456", "654321") is None
