"""Guard for the trimmed test emulator: every AWS-managed policy ARN the tests, the fixtures, the
bench and the `init` template name is one the test emulator loads."""

from __future__ import annotations

import json
import re
from pathlib import Path

from moto.iam.aws_managed_policies import aws_managed_policies_data

from emulator_policies import TEST_MANAGED_POLICIES

ROOT = Path(__file__).resolve().parents[2]
ARN = re.compile(r"arn:aws:iam::aws:policy/[A-Za-z0-9_+=,.@/-]*[A-Za-z0-9_+=@-]")
SCANNED = ("tests", "bench", "src/iamlayer/spec/templates", "README.md", "examples")


def named_arns() -> dict[str, set[str]]:
    """ARN -> files naming it, over every text file of the scanned folders."""
    found: dict[str, set[str]] = {}
    for top in SCANNED:
        base = ROOT / top
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
        for path in files:
            if path.suffix not in {".py", ".yaml", ".yml", ".tf", ".json", ".md", ".txt", ".tfstate"}:
                continue
            for arn in ARN.findall(path.read_text("utf-8", errors="replace")):
                found.setdefault(arn, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_aws_managed_policy_the_tests_name_is_loaded() -> None:
    shipped_names = set(json.loads(aws_managed_policies_data))
    missing = {
        arn: sorted(files)
        for arn, files in named_arns().items()
        # made-up ARNs (policy/X, policy/Vanished) are not AWS's: moto does not ship them either
        if arn.rsplit("/", 1)[-1] in shipped_names and arn not in TEST_MANAGED_POLICIES
    }
    assert not missing, (
        "these AWS-managed policies are named by tests but not loaded by the test emulator; "
        f"add them to tests/emulator_policies.py: {missing}"
    )


def test_the_test_set_names_only_policies_moto_ships() -> None:
    data = json.loads(aws_managed_policies_data)
    for arn in TEST_MANAGED_POLICIES:
        path, name = arn.removeprefix("arn:aws:iam::aws:policy").rsplit("/", 1)
        assert name in data, arn
        assert data[name]["Path"] == f"{path}/", arn
