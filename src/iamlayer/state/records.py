"""What the journal (iamlayer.state.journal) records, as values: pure, no file is read or written.

The planner and the diff reason about creations in flight through these; only the journal
itself touches disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from iamlayer.state.model import AccessKey

#: the folder beside the spec that holds the journal and the account locks
JOURNAL_DIR: Final = ".iamlayer"

#: the kinds of creation the journal keeps open (see the journal's docstring)
JournalEntry = Literal["groups", "access_keys", "provisioning"]

#: the journal entry of permission sets changed and not yet provisioned to every account where
#: they are assigned: one "<permission set>@<account id>" each
PROVISIONING_ENTRY: Final = "provisioning"

#: AWS stamps a key made by an attempt within this long of the attempt's journaled time: the
#: request's lifetime (a minute at most, see iamlayer.aws.session), plus the difference between
#: the local clock and AWS's, which AWS keeps under 5 minutes by refusing requests signed further off.
KEY_CREATION_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class KeyCreation:
    """An access key creation the journal holds open for a user."""

    before: frozenset[str] | None = None  # the user's key ids before it (None: not recorded)
    at: datetime | None = None  # when it was last attempted (None: not recorded)

    def may_have_made(self, key: AccessKey) -> bool:
        """Whether `key` (not one iamlayer holds the secret of) may be this creation's work."""
        if self.before is not None and key.id in self.before:
            return False
        if self.at is not None and key.created:
            return datetime.fromisoformat(key.created) <= self.at + KEY_CREATION_WINDOW
        return True
