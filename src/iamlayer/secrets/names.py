"""The outbox's file names and the kinds of secret it holds, as plain values.

Pure: modules that only need to name an outbox file (the diff, the importer) import this and not
iamlayer.secrets.outbox, which writes files and loads the OpenPGP library.
"""

from __future__ import annotations

from typing import Final, Literal

SecretKind = Literal["password", "access_key"]

#: a person's console password, encrypted: <outbox>/<account>/<user>/password.asc
PASSWORD_FILE: Final = "password.asc"
#: appended to PASSWORD_FILE while the password is staged and not yet known to be live
PENDING_SUFFIX: Final = ".pending"
