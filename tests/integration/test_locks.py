"""One iamlayer writing to an account at a time, shown with two real processes.

A child process takes account locks the way a running apply does and keeps them; this process (or
the CLI in another subprocess) is then refused with the holder's pid, host and command, and gets
the lock once the holder is killed.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from iamlayer.apply.run import apply_plan
from iamlayer.aws.session import ApiStats
from iamlayer.errors import LockedError
from iamlayer.plan.planner import make_plan
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Spec
from iamlayer.state.lock import account_locks, lock_path
from layer import Layer, run_cli

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


class Holder:
    def __init__(self, spec: Path, accounts: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(spec), accounts],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "held"

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()


@pytest.fixture
def small(tmp_path: Path) -> Spec:
    (tmp_path / "iamlayer.yaml").write_text(
        'project: acme\npeople_account: security\naccounts:\n  security: {id: "222222222222"}\n  shared: {id: "333333333333"}\n'
    )
    return load_spec(tmp_path / "iamlayer.yaml", check_keys=False)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for h in started:
        h.stop()


def test_a_second_process_is_refused_with_the_holder_and_gets_the_lock_once_it_is_killed(
    small: Spec, holders: list[Holder]
) -> None:
    holder = Holder(small.path, "security")
    holders.append(holder)
    with pytest.raises(LockedError) as info, account_locks(small, ["security"], "iamlayer password reset"):
        pass
    message = str(info.value)
    assert "account security is locked: `iamlayer apply` is writing to it" in message
    assert f"pid {holder.proc.pid} on host {socket.gethostname()}" in message and "since 20" in message
    assert f"kill {holder.proc.pid}" in message  # how to clear it if the holder is stuck
    holder.kill()  # SIGKILL: the kernel releases the flock
    with account_locks(small, ["security"], "iamlayer password reset"):
        assert '"command": "iamlayer password reset"' in lock_path(small, "security").read_text()
    assert lock_path(small, "security").read_text() == ""  # released: nobody named


def test_locks_are_all_or_nothing(small: Spec, holders: list[Holder]) -> None:
    holders.append(Holder(small.path, "shared"))
    with (
        pytest.raises(LockedError, match="account shared is locked"),
        account_locks(small, ["shared", "security"], "iamlayer apply"),
    ):
        pass
    # security (taken first, in sorted order) was let go when shared was refused
    fd = os.open(lock_path(small, "security"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_locks_are_reentrant_within_a_process(small: Spec) -> None:
    with (
        account_locks(small, ["security"], "iamlayer apply"),
        account_locks(small, ["security", "shared"], "x"),
    ):
        assert "iamlayer apply" in lock_path(small, "security").read_text()
    assert lock_path(small, "security").read_text() == ""


def test_apply_password_reset_and_rotate_are_refused_while_another_apply_runs(
    layer: Layer, aws_env: dict[str, str], holders: list[Holder]
) -> None:
    holder = Holder(layer.spec, "security")
    holders.append(holder)
    for args in (
        ["apply", "--auto-approve"],
        ["password", "reset", "jane.doe"],
        ["access-key", "rotate", "machine.ci"],
    ):
        r = run_cli(*args, cwd=layer.root, env=aws_env)
        assert r.code == 1, (args, r.out, r.err)
        assert "account security is locked" in r.err and f"pid {holder.proc.pid}" in r.err, r.err
        assert "Traceback" not in r.err
    assert layer.iam("security").list_users()["Users"] == []  # the refused apply wrote nothing
    # the library refuses too, not only the CLI
    spec = load_spec(layer.spec)
    plan = make_plan(spec, profile=None, only=["security"])
    with pytest.raises(LockedError, match=f"pid {holder.proc.pid}"):
        apply_plan(plan, spec, profile=None, stats=ApiStats())
    holder.kill()
    r = run_cli("apply", "--auto-approve", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out + r.err
    # offboarding, which needs the user applied first, is refused too, and its spec edit put back
    before = layer.spec.read_text()
    refusing = Holder(layer.spec, "security")
    holders.append(refusing)
    r = run_cli("offboard", "jane.doe", "--yes", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 1, r.out + r.err
    assert "account security is locked" in r.err and f"pid {refusing.proc.pid}" in r.err, r.err
    assert layer.spec.read_text() == before
    refusing.stop()
    # --lock-timeout waits for the holder instead of being refused, on every command that writes
    for args in (
        ["password", "reset", "jane.doe"],
        ["access-key", "rotate", "machine.ci"],
        ["offboard", "jane.doe", "--yes"],
    ):
        waited_for = Holder(layer.spec, "security")
        holders.append(waited_for)
        threading.Timer(1.5, waited_for.stop).start()
        started = time.monotonic()
        r = run_cli(*args, "--lock-timeout", "30s", "--json", cwd=layer.root, env=aws_env)
        assert r.code == 0, (args, r.out, r.err)
        assert time.monotonic() - started > 1.5  # it waited for the holder's end
    assert "jane.doe" not in {u["UserName"] for u in layer.iam("security").list_users()["Users"]}


NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
#: listed in tests/conftest.py's EXPECTED_SKIPS: a place of the checkout, not a missing tool
NOT_READABLE_BY_NOBODY = "the checkout and its .venv are not readable by user nobody"


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv, to run the second user as nobody",
)
def test_a_second_unix_user_of_a_shared_layer_folder_is_refused_clearly(aws_env: dict[str, str]) -> None:
    """Issue 18 item 11, with a real second user: root applied in a group-shared layer folder
    (its .iamlayer/ is 0700, the lock 0600); `nobody` runs apply there. It used to end in a
    PermissionError traceback; it is a refusal naming the file, its owner and what to do."""
    reach = subprocess.run(
        [*AS_NOBODY, sys.executable, "-c", "import iamlayer.cli.main"],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if reach.returncode != 0:
        # A checkout in a private folder (a 0700 home, mktemp -d): `nobody` cannot import iamlayer
        # or its dependencies from it at all, so there is no second user to refuse.
        pytest.skip(f"{NOT_READABLE_BY_NOBODY}: {reach.stderr.strip()[-200:]}")
    shared = Path(tempfile.mkdtemp(prefix="iamlayer-shared-", dir="/tmp"))
    try:
        shared.chmod(0o777)  # shared by a group; "others" stands for the group here
        spec_file = shared / "iamlayer.yaml"
        spec_file.write_text(
            'project: acme\npeople_account: security\naccounts:\n  security: {id: "222222222222"}\n'
        )
        spec_file.chmod(0o644)
        spec = load_spec(spec_file, check_keys=False)
        with account_locks(spec, ["security"], "iamlayer apply"):
            pass  # the first user's apply leaves .iamlayer/locks/security.lock behind
        home = shared / "home-of-nobody"
        home.mkdir()
        os.chown(home, NOBODY, NOBODY)
        proc = subprocess.run(
            [*AS_NOBODY, sys.executable, "-m", "iamlayer", "apply", "--auto-approve"],
            cwd=shared,
            env={**os.environ, **aws_env, "HOME": str(home), "COLUMNS": "400"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr
        err = " ".join(proc.stderr.split())
        assert "Traceback" not in err and "PermissionError" not in err, err
        lock = lock_path(spec, "security")
        assert f"cannot take the lock of account security: {lock}" in err, err
        assert f"for user nobody; {shared / '.iamlayer'} belongs to user root (mode 0700)" in err, err
        assert (
            "Run iamlayer here as user root" in err and f"sudo chown -R nobody {shared / '.iamlayer'}" in err
        )
    finally:
        shutil.rmtree(shared)
