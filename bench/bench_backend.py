"""Measure what the shared S3 backend adds to a no-op plan and to an apply, against the emulator.

    python bench/bench_backend.py --repeat 5

The same layer (the 5-account example organization, 6 people, 3 with console passwords and keys
encrypted to PGP keys) is run twice, each time with a fresh emulator: once with the local backend
(the folder .iamlayer/, flock locks), once with `backend: {s3: ...}` (the lock, journal, last-apply
record and ciphertext copies in a bucket). Each repetition times, as a person runs them in a
subprocess, `iamlayer plan --json` with nothing to do, and `iamlayer apply --auto-approve --json`
after one role policy was detached by hand in every account (one change per account, so every
account's lock is taken). The report is the median of each, per backend, and the difference: what
the backend costs. Targets (issue 20): under 0.3 s for the no-op plan, under 1 s for the apply.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import boto3
from bench_plan import ORG_ACCOUNTS, org_spec, run, write_keys

from iamlayer.sandbox.emulator import start_emulator

PEOPLE = 6
DRIFTED = ("Auditor", "arn:aws:iam::aws:policy/SecurityAudit")


def layer_spec(backend: bool) -> str:
    lines = org_spec(PEOPLE).splitlines()
    users = lines.index("users:")
    people = [
        line.replace(
            "}}",
            f"}}, pgp_key: keys/k{i % 2}, console: {str(i % 2 == 0).lower()}, access_key: {str(i % 2 == 1).lower()}}}",
        )
        for i, line in enumerate(lines[users + 1 :])
    ]
    text = "\n".join([*lines[: users + 1], *people]) + "\n"
    if backend:
        text += "backend:\n  s3: {bucket: bench-iamlayer-state, prefix: bench, account: security}\n"
    return text


def drift(env: dict[str, str]) -> None:
    """Detach the Auditor role's policy in every account, as someone would by hand."""
    sts = boto3.client("sts", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    for account_id in ORG_ACCOUNTS.values():
        c = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="bench"
        )["Credentials"]
        iam = boto3.client(
            "iam",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["SessionToken"],
        )
        iam.detach_role_policy(RoleName=DRIFTED[0], PolicyArn=DRIFTED[1])


def bench(backend: bool, repeat: int) -> dict[str, Any]:
    emu = start_emulator()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            (work / "iamlayer.yaml").write_text(layer_spec(backend))
            write_keys(work, 2)
            env = {**os.environ, **emu.env()}
            if backend:
                import subprocess
                import sys

                subprocess.run(
                    [sys.executable, "-m", "iamlayer", "backend", "init"],
                    cwd=work,
                    env=env,
                    check=True,
                    capture_output=True,
                )
            run(["apply", "--auto-approve", "--json"], work, env)
            plans, applies, changes = [], [], 0
            for _ in range(repeat):
                plans.append(run(["plan", "--json"], work, env)[0])
                drift(env)
                wall, _rss, out = run(["apply", "--auto-approve", "--json"], work, env)
                applies.append(wall)
                changes = out["applied"]
            return {
                "backend": "s3" if backend else "local",
                "plan_s": statistics.median(plans),
                "apply_s": statistics.median(applies),
                "changes": changes,
            }
    finally:
        emu.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    local, s3 = bench(False, args.repeat), bench(True, args.repeat)
    print(
        f"{'backend':<8} {'no-op plan':>11} {'apply':>8}  (medians of {args.repeat}; apply: {s3['changes']} changes)"
    )
    for r in (local, s3):
        print(f"{r['backend']:<8} {r['plan_s']:>10.2f}s {r['apply_s']:>7.2f}s")
    print(
        f"{'added':<8} {s3['plan_s'] - local['plan_s']:>+10.2f}s {s3['apply_s'] - local['apply_s']:>+7.2f}s"
    )
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
