"""Onboarding secrets: OpenPGP public keys, password generation, encryption, and the outbox.

Plaintext secrets live only in memory: they are encrypted to the person's public key before they
touch disk, and never printed or logged.
"""

from iamlayer.secrets.crypto import decrypt_file, encrypt_armored
from iamlayer.secrets.keys import PublicKey, load_public_key
from iamlayer.secrets.outbox import Outbox, PendingSecret, SecretRecord, StagedSecret
from iamlayer.secrets.passwords import check_password, generate_password

__all__ = [
    "Outbox",
    "PendingSecret",
    "PublicKey",
    "SecretRecord",
    "StagedSecret",
    "check_password",
    "decrypt_file",
    "encrypt_armored",
    "generate_password",
    "load_public_key",
]
