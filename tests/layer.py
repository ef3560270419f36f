"""Test support: write a layer (spec + real gpg keys) into a folder, run the CLI, read accounts.

Each test gets its own account ids, so tests share one emulator without seeing each other
(moto keeps accounts apart, and AssumeRole reaches any id).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from gpgkeys import GpgHome

if TYPE_CHECKING:
    from awsharness import AwsHarness, Rule

REPO = Path(__file__).resolve().parent.parent

_ids = itertools.count(random.Random(os.getpid()).randrange(100_000, 900_000) * 1000)


def fresh_account_ids(n: int) -> list[str]:
    """n 12-digit account ids nobody has used in this emulator yet."""
    return [f"{next(_ids) + 100_000_000_000:012d}" for _ in range(n)]


DESIGN_SPEC = """\
project: {project}
project_long: {project}-corp
region: us-east-1
accounts:
  management:  {{id: "{management}"}}
  security:    {{id: "{security}"}}
  shared:      {{id: "{shared}"}}
  apps-devstg: {{id: "{apps_devstg}"}}
  apps-prd:    {{id: "{apps_prd}"}}
people_account: security
access_role: OrganizationAccountAccessRole
password_policy: {{minimum_length: 30, max_age_days: 60, reuse_prevention: 24,
                  require: [upper, lower, numbers, symbols]}}
policies:
  billing-read:
    description: Read billing data
    document: {{Version: "2012-10-17",
               Statement: [{{Effect: Allow, Action: ["ce:Get*", "cur:Describe*"], Resource: "*"}}]}}
roles:
  DevOps:  {{accounts: [shared, apps-devstg, apps-prd], mfa_max_age: 43200,
            max_session_duration: 3600, policies: [arn:aws:iam::aws:policy/AdministratorAccess]}}
  Auditor: {{accounts: all, policies: [arn:aws:iam::aws:policy/ReadOnlyAccess,
                                      arn:aws:iam::aws:policy/SecurityAudit]}}
groups:
  devops:   {{assume: [DevOps], self_management: enforce_mfa}}
  auditors: {{assume: [Auditor]}}
  finops:   {{policies: [billing-read, arn:aws:iam::aws:policy/job-function/ViewOnlyAccess],
             inline_policies: {{reports: {{Version: "2012-10-17",
               Statement: [{{Effect: Allow, Action: "s3:GetObject", Resource: "arn:aws:s3:::acme-reports/*"}}]}}}}}}
users:
  jane.doe:   {{pgp_key: keys/jane.doe, groups: [devops]}}
  machine.ci: {{pgp_key: keys/machine.infra, groups: [auditors],
               console: false, access_key: true}}
"""

ACCOUNT_NAMES = ("management", "security", "shared", "apps-devstg", "apps-prd")


@dataclass
class Keys:
    """Two real keys made by gpg: jane (Curve25519, armored) and infra (RSA 3072, base64 of binary)."""

    gpg: GpgHome
    jane_fpr: str
    infra_fpr: str

    def install(self, keys_dir: Path) -> None:
        keys_dir.mkdir(parents=True, exist_ok=True)
        self.gpg.export(self.jane_fpr, "armored", keys_dir / "jane.doe")
        self.gpg.export(self.infra_fpr, "base64", keys_dir / "machine.infra")


def make_keys(home: Path) -> Keys:
    g = GpgHome(home)
    jane = g.gen_key("Jane Doe <jane@example.com>", "ed25519", "sign")
    g.add_subkey(jane, "cv25519", "encr")
    infra = g.gen_key("Infra Team <infra@example.com>", "rsa3072", "encr")
    return Keys(g, jane, infra)


@dataclass
class Layer:
    """A layer folder: iamlayer.yaml, keys/, and the account ids it uses."""

    root: Path
    project: str
    ids: dict[str, str]  # account name -> id
    keys: Keys

    @property
    def spec(self) -> Path:
        return self.root / "iamlayer.yaml"

    def write(self, text: str) -> None:
        self.spec.write_text(text)

    def edit(self, old: str, new: str) -> None:
        text = self.spec.read_text()
        assert old in text, f"{old!r} not in the spec"
        self.spec.write_text(text.replace(old, new))

    def iam(self, account: str) -> Any:
        """A boto3 IAM client inside `account` (assuming OrganizationAccountAccessRole, as iamlayer does)."""
        return session_in(self.ids[account]).client("iam")


def session_in(account_id: str) -> boto3.Session:
    sts = boto3.client("sts")
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="tests"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )


def make_layer(root: Path, keys: Keys, project: str = "acme") -> Layer:
    ids = dict(zip(ACCOUNT_NAMES, fresh_account_ids(len(ACCOUNT_NAMES)), strict=True))
    root.mkdir(parents=True, exist_ok=True)
    keys.install(root / "keys")
    layer = Layer(root, project, ids, keys)
    layer.write(DESIGN_SPEC.format(project=project, **{k.replace("-", "_"): v for k, v in ids.items()}))
    return layer


def apply_now(layer: Layer, only: list[str] | None = None) -> None:
    """Plan and apply the layer (`only` those accounts) in this process; it must succeed."""
    from iamlayer.apply.run import apply_plan
    from iamlayer.aws.session import ApiStats
    from iamlayer.plan.planner import make_plan
    from iamlayer.spec.load import load_spec

    spec = load_spec(layer.spec)
    outcome = apply_plan(make_plan(spec, profile=None, only=only), spec, profile=None, stats=ApiStats())
    assert outcome.ok, outcome.failed


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 300
) -> Run:
    """`iamlayer ARGS` in a subprocess, as a person runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "iamlayer", *args],
        cwd=cwd,
        env={**os.environ, **(env or {}), "COLUMNS": "200"},
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def killed_apply(
    root: Path, env: dict[str, str], harness: AwsHarness, rules: Sequence[Rule], timeout: float = 180
) -> Rule | None:
    """Run `iamlayer apply --auto-approve` in `root` and SIGKILL it the moment one of `rules`
    (hold_before / hold_after, added to `harness`) holds a call; then release every held call and
    forget the rules. Returns the rule that caught the apply, or None if it ended before any did."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "iamlayer", "apply", "--auto-approve"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    caught = None
    try:
        deadline = time.monotonic() + timeout
        while caught is None and proc.poll() is None:
            assert time.monotonic() < deadline, f"apply reached none of {[r.action for r in rules]}"
            caught = next((r for r in rules if r.reached.wait(0.05)), None)
        if caught is not None:
            os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
        harness.clear()
    return caught


def all_users(iam: Any) -> Iterator[str]:
    for page in iam.get_paginator("list_users").paginate():
        for u in page["Users"]:
            yield u["UserName"]
