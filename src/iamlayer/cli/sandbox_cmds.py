"""`iamlayer sandbox` and `iamlayer demo`: the whole flow with no AWS account."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

import click

from iamlayer.cli.common import EXIT_OK, console, run_guarded
from iamlayer.sandbox.emulator import SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY, start_emulator

#: Said wherever the emulator is offered, so that nobody takes what it lets through for what AWS
#: would allow: moto evaluates no policy (Resource and Condition are ignored, nothing is denied).
NO_POLICY_NOTE = (
    "Note: the emulator enforces no IAM policy. It lets every call through: here a user without "
    "MFA can assume DevOps, and a user outside a group any role. To see what AWS would decide, ask "
    "`iamlayer access can USER ACTION RESOURCE --mfa` (or --no-mfa) and "
    "`iamlayer access who-can-assume ROLE --account NAME`."
)


@click.command()
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
def sandbox(port: int | None) -> None:
    """Run the embedded AWS emulator until Ctrl-C, and print how to use it.

    The emulator (moto server, with AWS-managed policies loaded) listens on 127.0.0.1 only.
    Every iamlayer command, the aws CLI and Terraform reach it through AWS_ENDPOINT_URL. Any
    account id can be reached by assuming OrganizationAccountAccessRole in it, so the
    five-account example of `iamlayer init` applies as written. It enforces no IAM policy:
    `iamlayer access` says what AWS would decide.
    """
    emu = start_emulator(port=port)
    console.print("[green]AWS emulator running.[/] In another shell:\n")
    console.print(f"  export AWS_ENDPOINT_URL={emu.url}")
    console.print(
        f"  export AWS_ACCESS_KEY_ID={SANDBOX_ACCESS_KEY} AWS_SECRET_ACCESS_KEY={SANDBOX_SECRET_KEY}"
    )
    # botocore (so the aws CLI v1) reads only AWS_DEFAULT_REGION; the v2 CLI and SDKs AWS_REGION.
    env = emu.env()
    console.print(f"  export AWS_REGION={env['AWS_REGION']} AWS_DEFAULT_REGION={env['AWS_DEFAULT_REGION']}\n")
    console.print(f"[yellow]{NO_POLICY_NOTE}[/]\n")
    console.print("Press Ctrl-C to stop it (everything in it is forgotten).")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            if emu.process is not None and emu.process.poll() is not None:
                break
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
        console.print("Emulator stopped.")


@click.command()
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    help="Scaffold the layer into this folder and keep it (default: a temporary folder).",
)
def demo(keep: Path | None) -> int:
    """Run init, validate, plan, apply and outputs against an emulator it starts, then clean up.

    No AWS account needed: this is what a person sees on the first day, end to end. The emulator
    enforces no IAM policy; `iamlayer access` says what AWS would decide. The layer is made in a
    temporary folder removed at the end (the paths the steps print then no longer exist), unless
    --keep DIR keeps it there.
    """
    from iamlayer.cli.main import cli

    workdir = keep or Path(tempfile.mkdtemp(prefix="iamlayer-demo-"))
    emu = start_emulator()
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_REGION",
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
        )
    }
    old_cwd = Path.cwd()
    try:
        os.environ.update(emu.env())
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(k, None)
        spec = str(workdir / "iamlayer.yaml")
        steps: list[tuple[str, list[str]]] = [
            ("Scaffold a five-account layer", ["init", str(workdir)]),
            ("Validate the spec, its policies and keys", ["validate", "-f", spec]),
            (
                "Plan: what would change in each account, saved for apply",
                ["plan", "-f", spec, "--compact", "--stats", "--out", str(workdir / "plan.json")],
            ),
            (
                "Apply exactly that plan: create, encrypt each new secret to its owner's key, verify",
                ["apply", str(workdir / "plan.json"), "-f", spec],
            ),
            ("Plan again: nothing left to do", ["plan", "-f", spec, "--compact", "--stats"]),
            ("What each person receives (encrypted)", ["outputs", "-f", spec]),
        ]
        if not keep:
            console.print(
                f"[dim]The layer is made in {workdir}, a temporary folder removed at the end with the "
                "emulator: `iamlayer demo --keep DIR` keeps it.[/]"
            )
        for title, args in steps:
            console.rule(
                f"[bold]$ iamlayer {' '.join(a if not a.startswith('/') else _short(a, workdir) for a in args)}"
            )
            console.print(f"[dim]{title}[/]")
            rc = run_guarded(cli, args)
            if rc != EXIT_OK:
                console.print(f"[red]demo step failed (exit {rc})[/]")
                return rc
        console.rule()
        console.print("[green]Demo complete.[/] The layer was applied to the emulator and verified.")
        console.print(f"[yellow]{NO_POLICY_NOTE}[/]")
        if keep:
            console.print(
                f"The layer is kept in {workdir}; the emulator is stopped, and what it held with it. "
                f"The outputs decrypt with the example keys in {workdir / 'example-secret-keys'} "
                "(see its README.md); to plan the layer again, start `iamlayer sandbox` and set what it prints."
            )
        else:
            console.print(
                f"{workdir} is removed now, with the emulator: the paths and commands above that name "
                "it no longer work. Run `iamlayer demo --keep DIR` to keep the layer in DIR."
            )
        return EXIT_OK
    finally:
        os.chdir(old_cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        emu.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _short(arg: str, workdir: Path) -> str:
    return arg.replace(str(workdir), "<layer>")


def commands() -> list[click.Command]:
    return [sandbox, demo]
