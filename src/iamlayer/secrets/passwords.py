"""Console passwords that satisfy an account's password policy.

A generated password holds at least one character of every class (upper, lower, numbers,
symbols), whatever the policy requires: a policy can be tightened later, and a password that
already meets every class never needs replacing because of it.
"""

from __future__ import annotations

import secrets
import string

from iamlayer.spec.model import PASSWORD_CLASSES, PasswordPolicy

#: the symbols IAM counts for RequireSymbols (GetAccountPasswordPolicy documentation)
AWS_SYMBOLS = "!@#$%^&*()_+-=[]{}|'"

CLASS_CHARACTERS: dict[str, str] = {
    "upper": string.ascii_uppercase,
    "lower": string.ascii_lowercase,
    "numbers": string.digits,
    "symbols": AWS_SYMBOLS,
}

DEFAULT_LENGTH = 30
#: IAM's bounds on a console password (and on a policy's MinimumPasswordLength)
AWS_MIN_LENGTH = 6
AWS_MAX_LENGTH = 128

_ALPHABET = "".join(CLASS_CHARACTERS[c] for c in PASSWORD_CLASSES)
_random = secrets.SystemRandom()


def generate_password(policy: PasswordPolicy | None, length: int | None = None) -> str:
    """A random password of max(length or 30, policy.minimum_length) characters.

    Raises ValueError if that length is outside what IAM accepts (6 to 128).
    """
    size = max(length or DEFAULT_LENGTH, policy.minimum_length if policy else 0)
    if not AWS_MIN_LENGTH <= size <= AWS_MAX_LENGTH:
        raise ValueError(
            f"password length {size} is outside IAM's limits ({AWS_MIN_LENGTH}-{AWS_MAX_LENGTH})"
        )
    chars = [_random.choice(CLASS_CHARACTERS[c]) for c in PASSWORD_CLASSES]
    chars += [_random.choice(_ALPHABET) for _ in range(size - len(chars))]
    _random.shuffle(chars)
    return "".join(chars)


def check_password(policy: PasswordPolicy | None, password: str) -> list[str]:
    """What is wrong with `password` under `policy` (IAM's rules when None); [] if nothing."""
    problems: list[str] = []
    minimum = policy.minimum_length if policy else AWS_MIN_LENGTH
    if len(password) < minimum:
        problems.append(f"shorter than {minimum} characters ({len(password)})")
    if len(password) > AWS_MAX_LENGTH:
        problems.append(f"longer than {AWS_MAX_LENGTH} characters ({len(password)})")
    outside = sorted({c for c in password if c not in string.printable or c in string.whitespace[1:]})
    if outside:
        problems.append(
            f"contains {len(outside)} character(s) IAM does not accept (non-printable or not ASCII)"
        )
    for cls in sorted(policy.require if policy else ()):
        if not any(c in CLASS_CHARACTERS[cls] for c in password):
            problems.append(f"has no {cls} character (the policy requires one)")
    return problems
