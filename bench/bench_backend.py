"""Measure what the shared S3 backend adds to a no-op plan and to an apply, against the emulator.

    python bench/bench_backend.py --repeat 5

One layer (the 5-account example organization, 6 people, 3 with console passwords, 3 with access
keys, encrypted to PGP keys) on one emulator, run with the local backend (the folder .iamlayer/,
flock locks) and with `backend: {s3: ...}` (the lock, journal, last-apply record and ciphertext
copies in a bucket) in turns. Each turn times, as a person runs them in a subprocess, `iamlayer plan
--json` with nothing to do, and `iamlayer apply --auto-approve --json` after one role policy was
detached by hand in every account (one change per account, so every account's lock is taken and
released). The report is the median of each per backend, and the median of the paired differences:
what the S3 backend costs. Targets (issue 20): under 0.3 s for the no-op plan, under 1 s for the apply.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
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

    def client(service: str, key: str, secret: str, token: str | None = None) -> Any:
        return boto3.Session(key, secret, token, "us-east-1").client(
            service, endpoint_url=env["AWS_ENDPOINT_URL"]
        )

    sts = client("sts", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    for account_id in ORG_ACCOUNTS.values():
        role = f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
        c = sts.assume_role(RoleArn=role, RoleSessionName="bench")["Credentials"]
        iam = client("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        iam.detach_role_policy(RoleName=DRIFTED[0], PolicyArn=DRIFTED[1])


def bench(repeat: int) -> dict[str, dict[str, list[float]]]:
    """Both backends on one emulator and one layer folder, taking turns (the spec with and without its
    `backend:` block), so that the machine's load, which varies, weighs on both alike."""
    emu = start_emulator()
    times: dict[str, dict[str, list[float]]] = {b: {"plan": [], "apply": []} for b in ("local", "s3")}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            write_keys(work, 2)
            env = {**os.environ, **emu.env()}
            (work / "iamlayer.yaml").write_text(layer_spec(True))
            subprocess.run(
                [sys.executable, "-m", "iamlayer", "backend", "init"],
                cwd=work,
                env=env,
                check=True,
                capture_output=True,
            )
            run(["apply", "--auto-approve", "--json"], work, env)
            for _ in range(repeat):
                for name in ("local", "s3"):
                    (work / "iamlayer.yaml").write_text(layer_spec(name == "s3"))
                    times[name]["plan"].append(run(["plan", "--json"], work, env)[0])
                    drift(env)
                    wall, _rss, out = run(["apply", "--auto-approve", "--json"], work, env)
                    assert out["applied"] == len(ORG_ACCOUNTS), out
                    times[name]["apply"].append(wall)
    finally:
        emu.stop()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    t = bench(args.repeat)
    med = {b: {k: statistics.median(v) for k, v in t[b].items()} for b in t}
    added = {
        k: statistics.median(s - lo for s, lo in zip(t["s3"][k], t["local"][k], strict=True))
        for k in ("plan", "apply")
    }
    print(
        f"{'backend':<8} {'no-op plan':>11} {'apply':>8}  (medians of {args.repeat}; apply: {len(ORG_ACCOUNTS)} changes, one per account)"
    )
    for b in ("local", "s3"):
        print(f"{b:<8} {med[b]['plan']:>10.2f}s {med[b]['apply']:>7.2f}s")
    print(
        f"{'added':<8} {added['plan']:>+10.2f}s {added['apply']:>+7.2f}s  (median of the paired differences)"
    )
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
