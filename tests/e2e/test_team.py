"""Working as a team: two operators, two git clones of one layer, one S3 backend, the CLI as people
run it, every AWS call through the realistic-AWS harness (tests/awsharness.py) in front of the
emulator, which records who sent what and when.

Each operator signs with access keys of an IAM user of their own (so their caller ARNs differ, as
two people's do); the harness tells their calls apart by the key each session was assumed with.

- a stale clone is refused by apply, naming the newer apply; its plan warns at the top;
- lost answers on every S3 write the backend makes: no stuck lock, nothing lost;
- (proof) 20 applies, two operators at once, drift in all 5 accounts before each round: never two
  writers on an account at once (the write timeline against the lock timeline), no duplicate key,
  every live secret's ciphertext in the backend, decrypted by gpg to the live secret;
- (proof) SIGKILL the holder: its lock stays; after the lease the other operator takes it over, with
  a warning naming the dead holder, and the layer converges.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from awsharness import AwsHarness, Call, Fault, Lose, Rule
from backendsupport import add_backend, lock_object, objects, s3_in
from gpgkeys import gpg_available
from layer import ACCOUNT_NAMES, Layer, Run, killed_apply, run_cli

pytestmark = [
    pytest.mark.proof,
    pytest.mark.skipif(not gpg_available(), reason="needs gpg, as a person decrypts with it"),
]  # two operators with git clones: `make proof`

PREFIX = "identities"
LOST = (Fault.LOST_500, Fault.LOST_DROP)
WRITES = ("Get", "List", "Generate", "Simulate", "Describe")


@dataclass
class Operator:
    name: str
    root: Path  # their clone of the layer
    env: dict[str, str]  # the harness, and their own access key
    key: str  # their access key id: the root of every session they assume

    def run(self, *args: str, timeout: float = 300) -> Run:
        return run_cli(*args, cwd=self.root, env=self.env, timeout=timeout)

    def git(self, *args: str) -> str:
        return git(self.root, *args)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@dataclass
class Team:
    layer: Layer
    bucket: str
    harness: AwsHarness
    alice: Operator
    bob: Operator

    def operator_of(self, call: Call) -> str | None:
        """Whose call it is: follow the sessions back to the access key that assumed the first."""
        key = call.access_key
        seen = 0
        while key in self.harness.sessions and seen < 10:
            key, seen = self.harness.sessions[key].signer, seen + 1
        return {self.alice.key: "alice", self.bob.key: "bob"}.get(key)


@pytest.fixture
def team(layer: Layer, aws_env: dict[str, str], tmp_path: Path) -> Iterator[Team]:
    """The example layer in git (an origin and two clones), with an S3 backend (lease 3 s), and two
    operators with IAM users of their own in the emulator's default account."""
    bucket = add_backend(layer, lease="3s", prefix=PREFIX)
    (layer.root / ".gitignore").write_text(".iamlayer/\noutputs/\n")
    git(layer.root, "init", "-q", "-b", "main")
    git(layer.root, "add", "-A")
    git(layer.root, "commit", "-qm", "the layer")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(layer.root), str(origin))
    iam = boto3.client("iam")
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"], seed=3) as h:
        ops = []
        for name in ("alice", "bob"):
            user = f"{name}-{layer.ids['security']}"
            iam.create_user(UserName=user)
            k = iam.create_access_key(UserName=user)["AccessKey"]
            clone = tmp_path / name
            git(tmp_path, "clone", "-q", str(origin), str(clone))
            env = {
                **h.env(aws_env),
                "AWS_ACCESS_KEY_ID": k["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": k["SecretAccessKey"],
            }
            ops.append(Operator(name, clone, env, k["AccessKeyId"]))
        t = Team(layer, bucket, h, *ops)
        r = t.alice.run("backend", "init")
        assert r.code == 0, r.err
        yield t


def decrypt(layer: Layer, data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".asc") as f:
        f.write(data)
        f.flush()
        return layer.keys.gpg.decrypt(Path(f.name))


def passwords_given(harness: AwsHarness) -> dict[str, str]:
    """The password AWS was last given per user (the last Create/UpdateLoginProfile it applied)."""
    given: dict[str, str] = {}
    for c in sorted(harness.calls, key=lambda c: c.seq):
        accepted = c.status == 200 or c.fault in LOST
        if c.action in ("CreateLoginProfile", "UpdateLoginProfile") and c.applied and accepted:
            given[c.params["UserName"]] = c.params["Password"]
    return given


def assert_backend_holds_the_live_secrets(t: Team) -> None:
    """machine.ci has one key (no duplicate), jane.doe a password; each has its ciphertext in the
    backend, which gpg decrypts to the live secret; no lock is left; the journal is empty."""
    layer = t.layer
    iam = layer.iam("security")
    stored = objects(s3_in(layer), t.bucket, f"{PREFIX}/")
    out = f"{PREFIX}/outputs/security"
    keys = [k["AccessKeyId"] for k in iam.list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]]
    assert len(keys) == 1, keys  # no duplicate key
    held = sorted(k for k in stored if k.startswith(f"{out}/machine.ci/access-key-"))
    assert held == [f"{out}/machine.ci/access-key-{keys[0]}.asc"]
    secret = decrypt(layer, stored[held[0]])
    sts = boto3.client("sts", aws_access_key_id=keys[0], aws_secret_access_key=secret)
    assert sts.get_caller_identity()["Arn"].endswith(":user/machine.ci")
    iam.get_login_profile(UserName="jane.doe")
    assert decrypt(layer, stored[f"{out}/jane.doe/password.asc"]) == passwords_given(t.harness)["jane.doe"]
    assert not [k for k in stored if k.endswith(".pending")]
    assert not [k for k in stored if "/locks/" in k], "a lock was left behind"
    assert not [k for k in stored if "/journal/" in k], "a creation was left unfinished"


# --- a stale checkout --------------------------------------------------------------------------------


def test_a_stale_clone_is_refused_by_apply_naming_the_newer_apply(team: Team) -> None:
    t = team
    assert t.alice.run("apply", "--auto-approve").code == 0
    plan = t.bob.run("plan")
    assert plan.code == 0 and "Warning" not in plan.out, plan.out  # the same spec: not behind
    # Alice adds a user, pushes and applies; Bob has not pulled.
    text = (t.alice.root / "iamlayer.yaml").read_text()
    (t.alice.root / "iamlayer.yaml").write_text(
        text.replace("users:\n", "users:\n  new.hire:   {pgp_key: keys/jane.doe, groups: [auditors]}\n", 1)
    )
    t.alice.git("commit", "-qam", "new.hire")
    t.alice.git("push", "-q")
    commit = t.alice.git("rev-parse", "HEAD")
    assert t.alice.run("apply", "--auto-approve").code == 0
    alice_arn = json.loads(
        objects(s3_in(t.layer), t.bucket, f"{PREFIX}/last-apply.json")[f"{PREFIX}/last-apply.json"]
    )["by"]
    assert alice_arn.endswith(f":user/alice-{t.layer.ids['security']}")

    plan = t.bob.run("plan", "--compact")
    assert plan.code == 0, plan.err
    first = plan.out.lstrip().splitlines()[0]
    assert first.startswith("Warning: this checkout is behind the last apply") and commit[:12] in first, (
        plan.out
    )
    assert "- user.new.hire" in plan.out
    assert "deletes user new.hire in security, created by" in plan.out and alice_arn in plan.out
    assert json.loads(t.bob.run("plan", "--json").out)["warnings"][0].startswith("this checkout is behind")

    refused = t.bob.run("apply", "--auto-approve")
    assert refused.code == 1
    assert "not applying: this checkout is behind the last apply" in refused.err
    for part in (alice_arn, f"commit {commit[:12]}", "your git history lacks that commit", "--allow-behind"):
        assert part in refused.err.replace("\n", " "), part
    assert "new.hire" in [
        u["UserName"] for u in t.layer.iam("security").list_users()["Users"]
    ]  # nothing undone

    t.bob.git("pull", "-q")
    pulled = t.bob.run("plan", "--detailed-exitcode")
    assert pulled.code == 0 and "Warning" not in pulled.out, pulled.out  # up to date, and nothing to do
    # --allow-behind applies a checkout that is behind anyway (here: Bob goes back one commit).
    t.bob.git("checkout", "-q", "HEAD~1")
    forced = t.bob.run("apply", "--auto-approve", "--allow-behind")
    assert forced.code == 0, forced.err
    assert "new.hire" not in [u["UserName"] for u in t.layer.iam("security").list_users()["Users"]]


# --- lost answers on every S3 write ---------------------------------------------------------------------


def test_lost_answers_on_every_s3_write_leave_no_stuck_lock_and_lose_nothing(team: Team) -> None:
    t = team
    t.harness.lose = Lose(actions=frozenset({"PutObject", "DeleteObject"}), how="either")
    r = t.alice.run("apply", "--auto-approve")
    assert r.code == 0, r.err
    lost = [c for c in t.harness.calls if c.fault in LOST]
    kinds = {
        (
            "lock taken"
            if c.params.get("If-None-Match")
            else "heartbeat"
            if c.params.get("If-Match") and c.action == "PutObject"
            else "released"
            if c.action == "DeleteObject"
            else "?"
        )
        for c in lost
        if "/locks/" in c.params.get("Key", "")
    }
    assert kinds == {"lock taken", "heartbeat", "released"}
    others = {c.params["Key"].split("/")[1] for c in lost if "/locks/" not in c.params.get("Key", "")}
    assert others == {"journal", "outputs", "last-apply.json"}
    # Each lost write was resolved by reading the object back, never by sending it again blindly.
    calls = sorted(t.harness.calls, key=lambda c: c.seq)
    for c in lost:
        after = [d for d in calls if d.seq > c.seq and d.params.get("Key") == c.params["Key"]]
        assert after and after[0].action == "GetObject", c
    t.harness.lose = None
    assert_backend_holds_the_live_secrets(t)
    assert t.alice.run("lock", "list").out.strip() == "No account is locked."
    last = json.loads(
        objects(s3_in(t.layer), t.bucket, f"{PREFIX}/last-apply.json")[f"{PREFIX}/last-apply.json"]
    )
    assert {c["user"] for c in last["created"]} == {"jane.doe", "machine.ci"}
    assert t.bob.run("plan", "--detailed-exitcode").code == 0  # the other clone: nothing to do


# --- the proofs --------------------------------------------------------------------------------------------


def drift(layer: Layer) -> None:
    """Something to do in every account: a key and a password gone, an Auditor policy detached."""
    iam = layer.iam("security")
    for k in iam.list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="machine.ci", AccessKeyId=k["AccessKeyId"])
    iam.delete_login_profile(UserName="jane.doe")
    for account in ACCOUNT_NAMES:
        layer.iam(account).detach_role_policy(
            RoleName="Auditor", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        )


@dataclass
class Holding:
    """An operator's holding of an account's lock, as it knew it: from the answer that gave it the lock
    to the moment it sent the release. It writes only within it; the harness applies the writes of
    one S3 object one at a time, so two holdings of one account never overlap if the lock is sound."""

    who: str
    start: float  # when its lock write was answered
    end: float  # when its release was sent


def holdings(t: Team) -> dict[str, list[Holding]]:
    """Per account, who held its lock when, from the lock writes the emulator applied."""
    ids = {f"{PREFIX}/locks/{a}.json": a for a in ACCOUNT_NAMES}
    out: dict[str, list[Holding]] = {a: [] for a in ACCOUNT_NAMES}
    current: dict[str, Holding] = {}
    for c in sorted(t.harness.calls, key=lambda c: c.seq):
        account = ids.get(c.params.get("Key", ""))
        if (
            account is None
            or c.service != "s3"
            or not c.applied
            or not (c.status in (200, 204) or c.fault in LOST)
        ):
            continue
        who = t.operator_of(c)
        assert who is not None
        held = current.get(account)
        if c.action == "PutObject" and (held is None or held.who != who):
            assert held is None, f"{who} took {account} while {held.who} held it"  # type: ignore[union-attr]
            current[account] = Holding(who, c.done, float("inf"))
        elif c.action == "DeleteObject":
            assert held is not None and held.who == who, (account, who, held)
            held.end = c.t
            out[account].append(current.pop(account))
    assert not current, f"locks never released: {current}"
    return out


def check_write_timeline(t: Team) -> Counter[str]:
    """Every IAM write of an operator lies within a holding of the account's lock by that operator,
    and no two holdings of an account overlap. Returns the number of writes checked, by operator."""
    held = holdings(t)
    for account, spans in held.items():
        for a, b in itertools.pairwise(spans):
            assert a.end <= b.start, f"{account}: {a.who} held it until {a.end}, {b.who} from {b.start}"
    names = {v: k for k, v in t.layer.ids.items()}
    checked: Counter[str] = Counter()
    for c in t.harness.calls:
        who = t.operator_of(c)
        if who is None or c.service != "iam" or c.action.startswith(WRITES) or not c.applied:
            continue
        account = names[c.account]
        assert any(h.who == who and h.start <= c.t and c.done <= h.end for h in held[account]), (
            f"{who}'s {c.action} in {account} at {c.t:.3f} is outside their holdings of its lock"
        )
        checked[who] += 1
    return checked


@pytest.mark.proof
def test_two_operators_applying_at_once_never_write_to_an_account_together(team: Team) -> None:
    t = team
    assert t.alice.run("apply", "--auto-approve").code == 0
    t.bob.git("pull", "-q")
    rng = random.Random(20)
    applies = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _round in range(10):
            drift(t.layer)
            jobs = []
            for op in (t.alice, t.bob):
                some = rng.sample(ACCOUNT_NAMES, rng.randint(2, 5))
                only = [a for name in some for a in ("--account", name)]
                jobs.append(pool.submit(op.run, "apply", "--auto-approve", "--lock-timeout", "5m", *only))
            for job in jobs:
                r = job.result()
                assert r.code == 0, r.err[-3000:]
                applies += 1
            # Then the accounts neither chose this round converge too (a full apply, not counted).
            r = t.alice.run("apply", "--auto-approve", "--lock-timeout", "5m")
            assert r.code == 0, r.err[-3000:]
            assert_backend_holds_the_live_secrets(t)
    assert applies == 20
    writes = check_write_timeline(t)
    spans = holdings(t)
    both = {h.who for hs in spans.values() for h in hs}
    print(
        f"FIGURE team-concurrency: applies=20, iam_writes={dict(writes)}, holdings={sum(map(len, spans.values()))}"
    )
    assert both == {"alice", "bob"} and writes["alice"] > 20 and writes["bob"] > 20


@pytest.mark.proof
def test_a_killed_holders_lock_is_taken_over_after_its_lease_and_the_layer_converges(team: Team) -> None:
    t = team
    assert t.alice.run("apply", "--auto-approve").code == 0
    t.bob.git("pull", "-q")
    drift(t.layer)
    rule = t.harness.add(Rule("CreateAccessKey", mode="hold_before"))
    assert killed_apply(t.alice.root, t.alice.env, t.harness, [rule]) is rule
    dead = lock_object(s3_in(t.layer), t.bucket, "security", PREFIX)
    assert dead is not None, "the killed holder's lock stays"
    at_once = t.bob.run("apply", "--auto-approve")
    first = lock_object(s3_in(t.layer), t.bucket, "apps-devstg", PREFIX)  # the first account, in order
    assert first is not None and first["pid"] == dead["pid"]
    refusal = at_once.err.replace("\n", " ")
    assert at_once.code == 1 and f"pid {dead['pid']}" in refusal and f"lock id {first['id']}" in refusal
    r = t.bob.run("apply", "--auto-approve", "--lock-timeout", "1m")
    assert r.code == 0, r.err[-3000:]
    warning = r.err.replace("\n", " ")
    assert "took over the stale lock of account security" in warning and f"pid {dead['pid']}" in warning
    assert f"lock id {dead['id']}" in warning
    assert dead["caller"] in warning
    assert_backend_holds_the_live_secrets(t)
    assert t.alice.run("plan", "--detailed-exitcode").code == 0  # the killed operator's clone converges too
