"""Issue 21 item 4: across many accounts, read and written `--parallelism` at a time, a failing
account does not stop the others. 24 accounts, 4 at a time; one cannot be reached (AssumeRole
refused: its access role missing or not trusting the operator), one cannot be read
(GetAccountAuthorizationDetails refused). Plan plans the 22 others; apply applies and verifies
them, exits 1 and names both accounts with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from awsharness import AwsHarness, Rule
from layer import fresh_account_ids, run_cli, session_in

pytestmark = pytest.mark.proof  # 24 accounts under injected failures: `make proof`

ACCOUNTS = 24


def write_spec(root: Path, ids: list[str]) -> None:
    lines = ["project: iso", "accounts:"]
    lines += [f'  a{i:02d}: {{id: "{account}", alias: false}}' for i, account in enumerate(ids)]
    lines += [
        "people_account: a01",
        "roles:",
        "  Ops: {accounts: all, mfa_max_age: 3600}",
        "  Reader: {accounts: all}",
        "groups:",
        "  ops: {assume: [Ops, Reader]}",
        "users:",
        "  ann: {groups: [ops], console: false}",
        "  bob: {groups: [ops], console: false}",
    ]
    (root / "iamlayer.yaml").write_text("\n".join(lines) + "\n")


def test_failing_accounts_do_not_stop_the_others(tmp_path: Path, aws_env: dict[str, str]) -> None:
    ids = fresh_account_ids(ACCOUNTS)
    write_spec(tmp_path, ids)
    unreachable, unreadable = ids[7], ids[15]
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as proxy:
        env = {**aws_env, "AWS_ENDPOINT_URL": proxy.url}
        proxy.add(Rule("AssumeRole", "deny", contains=f"arn:aws:iam::{unreachable}:role/"))
        proxy.add(Rule("GetAccountAuthorizationDetails", "deny", account=unreadable))

        r = run_cli("plan", "--json", "--parallelism", "4", cwd=tmp_path, env=env)
        assert r.code == 1, r.err
        by = {a["account"]: a for a in r.json()["accounts"]}
        failed = {n: a["error"] for n, a in by.items() if a["error"]}
        assert set(failed) == {"a07", "a15"} and all(by[n]["unreadable"] for n in failed)
        assert "AssumeRole" in failed["a07"] and "GetAccountAuthorizationDetails" in failed["a15"]
        assert all(a["changes"] for n, a in by.items() if n not in failed)

        r = run_cli("apply", "--auto-approve", "--json", "--parallelism", "4", cwd=tmp_path, env=env)
        assert r.code == 1, r.out + r.err
        done = r.json()
        assert [a["account"] for a in done["failed_accounts"]] == ["a07", "a15"]
        assert not done["failed"] and not done["skipped"] and done["verified"]
        written = {a.split("/", 1)[0] for a in done["succeeded"]}
        assert written == {f"a{i:02d}" for i in range(ACCOUNTS)} - {"a07", "a15"}
        # nothing was sent to the two accounts beyond the refused calls
        writes = [c for c in proxy.calls if c.account in (unreachable, unreadable) and c.service == "iam"]
        assert {c.action for c in writes} <= {"GetAccountAuthorizationDetails"}, {c.action for c in writes}

    assert session_in(ids[23]).client("iam").get_role(RoleName="Ops")
    r = run_cli("apply", "--auto-approve", "--json", "--parallelism", "4", cwd=tmp_path, env=aws_env)
    assert r.code == 0, r.out + r.err
    assert {a.split("/", 1)[0] for a in r.json()["succeeded"]} == {"a07", "a15"}
