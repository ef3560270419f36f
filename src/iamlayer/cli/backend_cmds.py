"""The team's backend: `backend init`, `lock list`, `lock break`."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click
from rich.markup import escape

from iamlayer import api
from iamlayer.cli.common import EXIT_OK, console, json_option, profile_option, spec_option
from iamlayer.spec.load import load_spec


@click.group()
def backend() -> None:
    """The shared state of a team: locks, journal, last apply and ciphertexts in S3."""


@backend.command("init")
@spec_option
@profile_option
def backend_init(spec_file: Path, profile: str | None) -> int:
    """Create the bucket of the spec's `backend: {s3: ...}`, or check the one there; idempotent.

    The bucket gets versioning, default encryption (SSE-KMS with kms_key, else SSE-S3), Block
    Public Access and a bucket policy that denies requests without TLS. An existing bucket that is
    unversioned or public is refused, saying why, and left as it is.
    """
    spec = load_spec(spec_file, check_keys=False)
    result = api.backend_init(spec, credentials=profile)
    for step in result.done:
        console.print(f"  [green]+[/] {escape(step)}")
    for note in result.notes:
        console.print(f"  [yellow]![/] {escape(note)}")
    assert spec.backend is not None
    console.print(
        f"The backend s3://{spec.backend.bucket}/{spec.backend.prefix}/ is ready"
        + ("" if result.done else " (nothing to change)")
        + ". Copy the ciphertexts of outputs/ there with: iamlayer outputs sync"
    )
    return EXIT_OK


@click.group()
def lock() -> None:
    """The account locks: who writes to which account now."""


@lock.command("list")
@spec_option
@profile_option
@json_option
def lock_list(spec_file: Path, profile: str | None, as_json: bool) -> int:
    """Every account lock held now, with its holder, id and last heartbeat (stale ones marked)."""
    spec = load_spec(spec_file, check_keys=False)
    held = api.lock_list(spec, credentials=profile)
    if as_json:
        sys.stdout.write(json.dumps({"locks": [asdict(h) for h in held]}, indent=2) + "\n")
        return EXIT_OK
    if not held:
        console.print("No account is locked.")
    for h in held:
        stale = " [red](stale: its holder stopped renewing it)[/]" if h.stale else ""
        console.print(f"[bold]{escape(h.account)}[/]{stale}: {escape(h.describe())}")
    return EXIT_OK


@lock.command("break")
@click.argument("account")
@click.option("--id", "lock_id", required=True, metavar="ID", help="The lock id `iamlayer lock list` shows.")
@spec_option
@profile_option
def lock_break(account: str, lock_id: str, spec_file: Path, profile: str | None) -> int:
    """Remove ACCOUNT's lock, only if it is still the holding ID: for a holder you know is dead.

    A lock whose holder stopped renewing it is taken over by the next command once its lease ends
    (lock_lease, default 5m); break it only to go on sooner. A holding with another id (a new
    holder) is not touched.
    """
    spec = load_spec(spec_file, check_keys=False)
    info = api.lock_break(spec, account, lock_id, credentials=profile)
    console.print(f"Broke the lock of account {escape(account)}: it was {escape(info.describe())}.")
    return EXIT_OK


def commands() -> list[click.Command]:
    return [backend, lock]
