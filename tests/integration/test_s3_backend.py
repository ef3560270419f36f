"""The shared S3 backend on the emulator (moto server over HTTP): `backend init`, the lock that spans
machines (two processes stand for two machines: each lock is one object, taken and renewed by
conditional writes), the journal, the ciphertext copies and the bad inputs of the `backend:` block.

Where AWS behaves differently from the emulator (it refuses a bucket of another account; it applies
a conditional write atomically), the realistic-AWS harness (tests/awsharness.py) stands in front.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from awsharness import AwsHarness, Fault, Lose, Rule
from backendsupport import add_backend, lock_object, objects, s3_in
from iamlayer.errors import IamlayerError, LockedError
from iamlayer.spec.load import load_spec
from iamlayer.state.backends import forget_backends, open_backend
from iamlayer.state.lock import account_locks, lock_fence
from layer import Layer, apply_now, run_cli

HOLDER = textwrap.dedent(
    """
    import sys
    from iamlayer.spec.load import load_spec
    from iamlayer.state.lock import account_locks

    spec = load_spec(sys.argv[1], check_keys=False)
    with account_locks(spec, sys.argv[2].split(","), "iamlayer apply"):
        print("held", flush=True)
        sys.stdin.read()  # until the test closes stdin, or kills us
    """
)


LOST = (Fault.LOST_500, Fault.LOST_DROP)


class Holder:
    """Another machine's iamlayer holding account locks (a process of its own, its own heartbeat)."""

    def __init__(self, spec: Path, accounts: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(spec), accounts],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(30) == 0

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


@pytest.fixture(autouse=True)
def _fresh_backends() -> Iterator[None]:
    forget_backends()
    yield
    forget_backends()


@pytest.fixture
def team(layer: Layer) -> tuple[Layer, str]:
    """The example layer with an S3 backend (lease 3 s), its bucket made by `backend init`."""
    bucket = add_backend(layer, lease="3s")
    r = run_cli("backend", "init", cwd=layer.root)
    assert r.code == 0, r.err
    return layer, bucket


# --- backend init ---------------------------------------------------------------------------------


def test_backend_init_makes_a_private_versioned_encrypted_tls_only_bucket_and_is_idempotent(
    layer: Layer,
) -> None:
    bucket = add_backend(layer)
    r = run_cli("backend", "init", cwd=layer.root)
    assert r.code == 0, r.err
    assert f"created bucket {bucket}" in r.out and "versioning on" in r.out
    s3 = s3_in(layer)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    # The emulator answers over plain HTTP, where a TLS-only policy would refuse iamlayer itself
    # (moto enforces aws:SecureTransport): said, not set. tests/unit/test_backend_spec.py checks it.
    assert "no TLS-only bucket policy: the endpoint http://127.0.0.1" in r.out
    again = run_cli("backend", "init", cwd=layer.root)
    assert again.code == 0 and "nothing to change" in again.out, again.out + again.err


def test_backend_init_refuses_a_bucket_that_is_unversioned_or_public_and_says_why(layer: Layer) -> None:
    bucket = add_backend(layer)
    s3 = s3_in(layer)
    s3.create_bucket(Bucket=bucket)
    r = run_cli("backend", "init", cwd=layer.root)
    assert r.code == 1
    assert "its versioning is off" in r.err and "put-bucket-versioning" in r.err
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    r = run_cli("backend", "init", cwd=layer.root)
    assert r.code == 1 and "its ACL grants access to AllUsers" in r.err, r.err
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_policy(Bucket=bucket)  # nothing was changed
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert run_cli("backend", "init", cwd=layer.root).code == 0


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_a_missing_kms_key_is_a_spec_error_at_its_line_and_nothing_is_written(layer: Layer) -> None:
    bucket = add_backend(layer, kms_key="alias/nobody-made-this")
    for args in (["backend", "init"], ["apply", "--auto-approve"]):
        r = run_cli(*args, cwd=layer.root)
        assert r.code == 2, r.err
        assert (
            f"iamlayer.yaml:{_line(layer.spec, 'kms_key')}: error: backend.s3.kms_key: KMS key alias/nobody-made-this does not exist"
            in r.err
        )
    assert bucket not in [b["Name"] for b in s3_in(layer).list_buckets()["Buckets"]]
    assert "jane.doe" not in [u["UserName"] for u in layer.iam("security").list_users()["Users"]]


def test_a_kms_key_that_exists_encrypts_the_bucket(layer: Layer) -> None:
    kms = boto3.Session(**_creds(layer)).client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/iamlayer", TargetKeyId=key)
    bucket = add_backend(layer, kms_key="alias/iamlayer")
    assert run_cli("backend", "init", cwd=layer.root).code == 0
    rule = s3_in(layer).get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": "alias/iamlayer",
    }


def _creds(layer: Layer) -> dict[str, str]:
    sts = boto3.client("sts")
    c = sts.assume_role(
        RoleArn=f"arn:aws:iam::{layer.ids['security']}:role/OrganizationAccountAccessRole",
        RoleSessionName="tests",
    )["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
        "region_name": "us-east-1",
    }


def test_a_bucket_of_another_account_is_a_spec_error_at_its_line_and_nothing_is_written(
    layer: Layer, aws_env: dict[str, str], emulator: object
) -> None:
    """AWS answers AccessDenied to every call on a bucket of another account the caller may not use
    (the emulator enforces no policy: the harness gives AWS's answer)."""
    bucket = add_backend(layer)
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as h:
        for action in (
            "HeadBucket",
            "ListObjectsV2",
            "GetObject",
            "PutObject",
            "DeleteObject",
            "CreateBucket",
        ):
            h.add(
                Rule(
                    action, mode="error", code="AccessDenied", message="Access Denied", status=403, times=100
                )
            )
        for args in (["backend", "init"], ["plan"], ["apply", "--auto-approve"], ["lock", "list"]):
            r = run_cli(*args, cwd=layer.root, env=h.env(aws_env))
            assert r.code == 2, (args, r.err)
            assert (
                f"iamlayer.yaml:{_line(layer.spec, 'bucket:')}: error: backend.s3.bucket: bucket {bucket} refuses"
                in r.err
            )
            assert "may belong to another account" in r.err
        writes = [
            c
            for c in h.calls
            if c.service in ("s3", "iam")
            and c.action.startswith(("Put", "Create", "Delete", "Add", "Attach"))
        ]
        assert writes and not [c for c in writes if c.applied]  # tried (and refused), never applied


def test_a_bucket_not_made_yet_says_to_run_backend_init(layer: Layer) -> None:
    add_backend(layer)
    r = run_cli("plan", cwd=layer.root)
    assert r.code == 1 and "create it with `iamlayer backend init`" in r.err, r.err


# --- the lock ---------------------------------------------------------------------------------------


def test_a_second_operator_is_refused_at_once_with_the_holders_details(team: tuple[Layer, str]) -> None:
    layer, bucket = team
    holder = Holder(layer.spec, "security,shared")
    try:
        spec = load_spec(layer.spec, check_keys=False)
        started = time.monotonic()
        with pytest.raises(LockedError) as info, account_locks(spec, ["shared"], "iamlayer apply"):
            pass
        assert time.monotonic() - started < 2
        held = lock_object(s3_in(layer), bucket, "shared")
        assert held is not None and held["pid"] == holder.proc.pid
        text = str(info.value)
        for part in (
            f"lock id {held['id']}",
            held["caller"],
            f"pid {holder.proc.pid}",
            "iamlayer apply",
            held["since"],
        ):
            assert part in text
        assert held["caller"].startswith("arn:aws:")
        assert f"iamlayer lock break shared --id {held['id']}" in text
        r = run_cli("lock", "list", "--json", cwd=layer.root)
        assert r.code == 0, r.err
        listed = {lk["account"]: lk for lk in r.json()["locks"]}
        assert set(listed) == {"security", "shared"} and listed["shared"]["id"] == held["id"]
        assert not listed["shared"]["stale"]
        applied = run_cli("apply", "--auto-approve", cwd=layer.root)
        assert applied.code == 1 and "is locked" in applied.err and f"pid {holder.proc.pid}" in applied.err
    finally:
        holder.release()
    assert lock_object(s3_in(layer), bucket, "shared") is None  # released with a conditional delete
    r = run_cli("lock", "list", cwd=layer.root)
    assert r.code == 0 and "No account is locked" in r.out


def test_the_holder_renews_its_heartbeat_and_a_waiter_gets_the_lock_once_released(
    team: tuple[Layer, str],
) -> None:
    layer, bucket = team
    holder = Holder(layer.spec, "security")
    s3 = s3_in(layer)
    first = lock_object(s3, bucket, "security")
    assert first is not None
    time.sleep(2.5)  # a lease of 3 s: renewed every second
    renewed = lock_object(s3, bucket, "security")
    assert renewed is not None and renewed["id"] == first["id"] and renewed["heartbeat"] > first["heartbeat"]
    spec = load_spec(layer.spec, check_keys=False)
    threading.Timer(2.0, holder.release).start()
    started = time.monotonic()
    with account_locks(spec, ["security"], "iamlayer apply", timeout=30):
        waited = time.monotonic() - started
        mine = lock_object(s3, bucket, "security")
        assert mine is not None and mine["pid"] == os.getpid()
    assert 1.5 < waited < 10


@pytest.mark.proof  # a long walk: make proof (make test keeps under 5 minutes)
def test_a_killed_holders_lock_stays_until_its_lease_then_one_waiter_takes_it_over(
    team: tuple[Layer, str],
) -> None:
    layer, bucket = team
    holder = Holder(layer.spec, "security")
    dead = lock_object(s3_in(layer), bucket, "security")
    holder.kill()
    assert dead is not None
    spec = load_spec(layer.spec, check_keys=False)
    # The lock stays: nobody can know at once that its holder died.
    with pytest.raises(LockedError), account_locks(spec, ["security"], "iamlayer apply"):
        pass
    assert lock_object(s3_in(layer), bucket, "security") == dead
    warnings: list[str] = []
    taken: list[int] = []
    refused: list[str] = []

    def waiter(n: int) -> None:
        forget = open_backend  # each waiter is a backend of its own, as on two machines
        backend = forget(spec)
        try:
            held = backend.acquire("security", f"waiter {n}", 20, warnings.append)
        except LockedError as exc:
            refused.append(str(exc))
            return
        taken.append(n)
        time.sleep(4)  # past the lease: the other waiter must see it renewed, not stale
        assert backend.release(held) is None

    threads = [threading.Thread(target=waiter, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 2  # one took over the stale lock; the other waited for its release
    assert len(warnings) == 1  # exactly one takeover
    assert (
        f"pid {dead['pid']}" in warnings[0]
        and dead["id"] in warnings[0]
        and "took over the stale lock" in warnings[0]
    )
    assert lock_object(s3_in(layer), bucket, "security") is None


def test_lock_break_removes_only_the_holding_it_names(team: tuple[Layer, str]) -> None:
    layer, bucket = team
    holder = Holder(layer.spec, "shared")
    held = lock_object(s3_in(layer), bucket, "shared")
    assert held is not None
    holder.kill()
    wrong = run_cli("lock", "break", "shared", "--id", "0123456789ab", cwd=layer.root)
    assert wrong.code == 1 and f"held by `iamlayer apply` (lock id {held['id']})" in wrong.err
    assert lock_object(s3_in(layer), bucket, "shared") == held
    r = run_cli("lock", "break", "shared", "--id", held["id"], cwd=layer.root)
    assert r.code == 0 and f"pid {held['pid']}" in r.out, r.err
    assert lock_object(s3_in(layer), bucket, "shared") is None
    again = run_cli("lock", "break", "shared", "--id", held["id"], cwd=layer.root)
    assert again.code == 1 and "is not locked" in again.err


def test_a_lost_answer_to_the_lock_write_is_resolved_by_reading_it_back(
    team: tuple[Layer, str], aws_env: dict[str, str]
) -> None:
    layer, bucket = team
    spec = load_spec(layer.spec, check_keys=False)
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as h:
        os.environ["AWS_ENDPOINT_URL"] = h.url
        try:
            for how in ("500", "drop"):
                forget_backends()
                h.lose = Lose(actions=frozenset({"PutObject"}), how=how, times=1)
                with account_locks(spec, ["security"], "iamlayer apply"):
                    mine = lock_object(s3_in(layer), bucket, "security")
                    assert mine is not None and mine["pid"] == os.getpid()
                    h.lose = Lose(actions=frozenset({"DeleteObject"}), how=how, times=1)
                assert lock_object(s3_in(layer), bucket, "security") is None
                lost = [
                    c
                    for c in h.calls
                    if c.fault in LOST and c.params.get("Key", "").endswith("locks/security.json")
                ]
                assert [c.action for c in lost][-2:] == ["PutObject", "DeleteObject"]
            # No write was sent twice blindly: each lost one was followed by a read of the lock.
            keyed = [c for c in h.calls if c.params.get("Key", "").endswith("locks/security.json")]
            assert sum(c.fault in LOST for c in keyed) == 4
            for i, c in enumerate(keyed):
                if c.fault in LOST:
                    assert keyed[i + 1].action == "GetObject"
        finally:
            os.environ["AWS_ENDPOINT_URL"] = aws_env["AWS_ENDPOINT_URL"]


def test_a_lost_answer_to_a_lock_someone_else_won_is_not_taken_for_ours(team: tuple[Layer, str]) -> None:
    """The read-back finds another holder: refused, naming them, and their lock untouched."""
    layer, bucket = team
    holder = Holder(layer.spec, "security")
    try:
        spec = load_spec(layer.spec, check_keys=False)
        backend = open_backend(spec)
        from iamlayer.aws.s3_backend import S3Backend

        assert isinstance(backend, S3Backend)
        theirs = lock_object(s3_in(layer), bucket, "security")
        with pytest.raises(LockedError, match=f"pid {holder.proc.pid}"):
            backend.acquire("security", "iamlayer apply", 0, print)
        assert lock_object(s3_in(layer), bucket, "security")["id"] == theirs["id"]  # type: ignore[index]
    finally:
        holder.release()


# --- journal, ciphertexts, the record of the last apply -------------------------------------------


def test_an_apply_keeps_journal_records_ciphertexts_and_the_last_apply_in_the_bucket(
    team: tuple[Layer, str],
) -> None:
    layer, bucket = team
    r = run_cli("apply", "--auto-approve", cwd=layer.root)
    assert r.code == 0, r.err
    stored = objects(s3_in(layer), bucket, "identities/")
    local = {
        str(p.relative_to(layer.root / "outputs")): p.read_bytes()
        for p in (layer.root / "outputs").glob("*/*/*")
    }
    copies = {k.removeprefix("identities/outputs/"): v for k, v in stored.items() if "/outputs/" in k}
    assert copies == local and len(local) == 2  # jane's password, the CI user's access key
    assert not [k for k in stored if "/locks/" in k]
    assert not [k for k in stored if "/journal/" in k]  # every creation finished: no record left
    versions = s3_in(layer).list_object_versions(Bucket=bucket, Prefix="identities/journal/")
    assert versions.get("Versions") and versions.get("DeleteMarkers")  # each was written, then cleared
    last = json.loads(stored["identities/last-apply.json"])
    assert last["by"].startswith("arn:aws:") and last["commit"] is None
    assert {(c["account"], c["user"]) for c in last["created"]} == {
        ("security", "jane.doe"),
        ("security", "machine.ci"),
    }
    assert not (layer.root / ".iamlayer" / "journal-acme.json").exists()


def test_a_fresh_clone_gets_every_ciphertext_from_the_backend_with_outputs_sync(
    team: tuple[Layer, str], tmp_path: Path
) -> None:
    layer, _bucket = team
    assert run_cli("apply", "--auto-approve", cwd=layer.root).code == 0
    # the record of the organization travels with the ciphertexts (people's commands resolve with it)
    (layer.root / "outputs" / "organization.json").write_text('{"id": "o-x", "root_id": "r-x"}\n')
    assert run_cli("outputs", "sync", cwd=layer.root).code == 0
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("iamlayer.yaml", "keys"):
        src = layer.root / name
        if src.is_dir():
            subprocess.run(["cp", "-r", str(src), str(clone / name)], check=True)
        else:
            (clone / name).write_bytes(src.read_bytes())
    r = run_cli("outputs", "sync", cwd=clone)
    assert r.code == 0 and "3 fetched" in r.out, r.out + r.err
    assert (clone / "outputs" / "organization.json").read_text() == '{"id": "o-x", "root_id": "r-x"}\n'
    for p in (layer.root / "outputs").glob("*/*/*"):
        copy = clone / "outputs" / p.relative_to(layer.root / "outputs")
        assert copy.read_bytes() == p.read_bytes() and (copy.stat().st_mode & 0o777) == 0o600
    plan = run_cli("plan", "--detailed-exitcode", cwd=clone)
    assert plan.code == 0, plan.out  # the clone knows every secret: nothing to do


def test_the_local_backend_cannot_break_a_lock_held_by_a_live_process(layer: Layer) -> None:
    holder = Holder(layer.spec, "security")
    try:
        r = run_cli("lock", "list", cwd=layer.root)
        assert r.code == 0 and f"pid {holder.proc.pid}" in r.out
        m = re.search(r"lock id (\w+)", r.out)
        assert m
        r = run_cli("lock", "break", "security", "--id", m.group(1), cwd=layer.root)
        assert r.code == 1 and "nothing to break" in r.err
    finally:
        holder.release()
    assert "No account is locked" in run_cli("lock", "list", cwd=layer.root).out
    with pytest.raises(IamlayerError, match="no `backend:` block"):
        from iamlayer import api

        api.outputs_sync(load_spec(layer.spec, check_keys=False))
    apply_now(layer, only=["security"])  # the local backend works as it always did


def test_a_holder_whose_lock_is_broken_mid_apply_stops_writing(team: tuple[Layer, str]) -> None:
    """The fence apply asks before each write: None while held; once another operator breaks the
    lock, the holder's next renewal finds it gone and every later write is refused, instead of the
    loss being learnt only at release."""
    layer, bucket = team
    spec = load_spec(layer.spec, check_keys=False)
    fence = lock_fence(spec)
    assert fence("security") == "this command does not hold the lock of account security"
    with (
        pytest.raises(LockedError, match="was taken from this command while it ran"),  # at release
        account_locks(spec, ["security"], "iamlayer apply"),
    ):
        assert fence("security") is None
        mine = lock_object(s3_in(layer), bucket, "security")
        assert mine is not None
        other = open_backend(load_spec(layer.spec, check_keys=False), boto3.Session())  # a 2nd operator
        for _ in range(5):
            try:
                other.break_lock("security", mine["id"])
                break
            except IamlayerError as exc:
                # The holder renews every second: a renewal between break_lock's read and its
                # conditional delete makes it refuse (rightly); an operator runs it again.
                assert "changed while it was being broken" in str(exc), exc
        else:
            pytest.fail("the lock could not be broken in 5 attempts")
        deadline = time.monotonic() + 10
        while fence("security") is None and time.monotonic() < deadline:
            time.sleep(0.2)  # the heartbeat renews every second (lease 3 s)
        reason = fence("security")
        assert reason is not None and "was taken from this command while it ran (it was broken)" in reason


def test_a_lock_not_renewed_for_most_of_its_lease_fences_its_writes() -> None:
    """S3 unreachable: no renewal lands, so after 80 % of the lease the holder stops writing, since
    a waiter may take the lock over once the lease has passed by S3's clock."""
    from iamlayer.aws.s3_backend import FENCE, S3Held
    from iamlayer.state.backend import LockInfo

    info = LockInfo(
        "security", "abc", "arn:aws:iam::1:user/a", "h", 1, "iamlayer apply", "2026-12-06T00:00:00Z"
    )
    held = S3Held(info, "identities/locks/security.json", '"e1"', lease=300.0)
    assert held.lost_reason() is None
    held.renewed -= 300 * FENCE - 5
    assert held.lost_reason() is None
    held.renewed -= 10
    reason = held.lost_reason()
    assert reason is not None and "could not be renewed for 245 s" in reason and "lease is 5m" in reason
