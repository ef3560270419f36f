"""Rotating and retiring a user's access keys: only the keys asked about, each one named.

AWS allows two access keys per user. Rotation makes a new key (its secret encrypted to the
user's PGP key at once, see `issue_access_key`) and, when asked, retires the key the user had
before. With two keys already there, which one is in use cannot be known from here, so rotation
refuses and names both (created, last used), and `retire` takes the one to retire by its id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from iamlayer.apply.credentials import issue_access_key, retire_access_key
from iamlayer.apply.handlers import HandlerContext
from iamlayer.errors import IamlayerError
from iamlayer.secrets.keys import PublicKey

OldKeys = Literal["keep", "deactivate", "delete"]


@dataclass(frozen=True)
class KeyInfo:
    """One access key of a user, as AWS and the outbox know it."""

    id: str
    status: str  # Active | Inactive
    created: datetime | None
    last_used: datetime | None  # None: never used
    last_service: str | None
    issued: bool  # iamlayer issued it (its ciphertext is in the outputs)

    def describe(self) -> str:
        used = (
            f"last used {_day(self.last_used)}" + (f" ({self.last_service})" if self.last_service else "")
            if self.last_used
            else "never used"
        )
        made = "issued by iamlayer" if self.issued else "not issued by iamlayer"
        return f"{self.id} ({self.status}, created {_day(self.created)}, {used}, {made})"

    def as_json(self) -> dict[str, Any]:
        return {
            "access_key_id": self.id,
            "status": self.status,
            "created": self.created.isoformat() if self.created else None,
            "last_used": self.last_used.isoformat() if self.last_used else None,
            "last_used_service": self.last_service,
            "issued_by_iamlayer": self.issued,
        }


#: sorts first: a key listed without its creation time (AWS always gives it)
_NEVER = datetime.min.replace(tzinfo=UTC)


def _day(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "unknown"


def list_keys(ctx: HandlerContext, user: str) -> list[KeyInfo]:
    """The user's access keys, oldest first, with when each was last used (two calls per key at most)."""
    meta = ctx.iam.access_keys(user)
    issued = ctx.outbox.access_key_ids(ctx.account, user)
    keys = []
    for k in sorted(meta, key=lambda k: (k.get("CreateDate") or _NEVER, k["AccessKeyId"])):
        key_id = str(k["AccessKeyId"])
        used = ctx.iam.access_key_last_used(user, key_id)
        service = used.get("ServiceName") if used else None
        keys.append(
            KeyInfo(
                id=key_id,
                status=str(k.get("Status", "Active")),
                created=k.get("CreateDate"),
                last_used=used.get("LastUsedDate") if used else None,
                last_service=str(service) if service and service != "N/A" else None,
                issued=key_id in issued,
            )
        )
    return keys


def two_keys_message(user: str, keys: Sequence[KeyInfo]) -> str:
    listing = "\n".join(f"  {k.describe()}" for k in keys)
    oldest = keys[0].id
    return (
        f"user {user} already has two access keys, the most AWS allows:\n{listing}\n"
        "Rotation would have to retire one, and which one is still in use cannot be known from here. "
        f"Retire the one nobody uses, then rotate again, e.g.:\n"
        f"  iamlayer access-key retire {user} {oldest}              (delete it)\n"
        f"  iamlayer access-key retire {user} {oldest} --deactivate (or only deactivate it for now)"
    )


@dataclass(frozen=True)
class Rotation:
    access_key_id: str
    file: Path
    old_keys: tuple[KeyInfo, ...]  # the keys the user had before
    retired: tuple[KeyInfo, ...]  # those of them deleted or deactivated, as asked
    old_keys_action: OldKeys


def rotate(ctx: HandlerContext, user: str, pgp_key: PublicKey, old: OldKeys) -> Rotation:
    """A new key for `user`; the key they had before is kept, deactivated or deleted, as asked.

    Refuses (IamlayerError naming both keys) when the user already has two keys.
    """
    keys = list_keys(ctx, user)
    if len(keys) >= 2:
        raise IamlayerError(two_keys_message(user, keys))
    key_id, path = issue_access_key(ctx, user, pgp_key)
    retired = retire(ctx, user, keys, deactivate=old == "deactivate") if old != "keep" else []
    return Rotation(key_id, path, tuple(keys), tuple(retired), old)


def default_retirement(user: str, keys: Sequence[KeyInfo]) -> list[KeyInfo]:
    """Every key but the newest one iamlayer issued (which is the one people were given)."""
    issued = [k for k in keys if k.issued]
    if not issued:
        listing = ", ".join(k.id for k in keys) or "none"
        raise IamlayerError(
            f"none of the access keys of {user} ({listing}) was issued by iamlayer, so there is no key "
            f"to keep by default; name the keys to retire: iamlayer access-key retire {user} KEY_ID"
        )
    keep = issued[-1]
    return [k for k in keys if k.id != keep.id]


def select_keys(user: str, keys: Sequence[KeyInfo], ids: Sequence[str]) -> list[KeyInfo]:
    """The keys named by `ids`, refusing ids that are not this user's."""
    by_id = {k.id: k for k in keys}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        have = ", ".join(by_id) or "none"
        raise IamlayerError(f"{', '.join(unknown)}: not an access key of {user} (its keys: {have})")
    return [by_id[i] for i in dict.fromkeys(ids)]


def retire(ctx: HandlerContext, user: str, keys: Sequence[KeyInfo], *, deactivate: bool) -> list[KeyInfo]:
    """Delete `keys` (and their ciphertexts), or only deactivate them. Returns what was done to."""
    for k in keys:
        if deactivate:
            ctx.iam.deactivate_access_key(user, k.id)
        else:
            retire_access_key(ctx, user, k.id)
    return list(keys)
