"""The real `iamlayer apply` converges under AWS's behaviours (issue 10, "What to deliver" 2, and the
figures of its closing note).

The organization: the DESIGN.md example in fresh account ids (the `layer` fixture), made larger
where that makes the proof stronger: jane.doe is in finops as well, ana.lopez has a console
password and an access key (devops, finops), sam.taylor an access key only (finops, auditors),
and a second policy, legacy-read, is attached to auditors. Every apply is the CLI in a subprocess
(`iamlayer apply --auto-approve`) through tests/awsharness.py with the switches of the scenario.
What is checked afterwards is read from the emulator directly, not through the harness.

"Converged" (`assert_converged`):
- the apply exited 0 and said "Verified", having waited for IAM within the documented bound
  (60 s, README "Plan and apply"); a rerun after a kill may find nothing left ("No changes");
- no duplicate and no orphan access key: each user has exactly the keys the spec asks for (one
  or none), and every live key has a ciphertext in outputs/ that real gpg decrypts to a secret
  that authenticates as that user (sts:GetCallerIdentity); no ciphertext of a key that is gone;
- no lost ciphertext: each console user has a login profile and a password.asc that gpg decrypts
  to the password AWS was last given (from the harness's record of the calls the emulator
  applied, lost answers included); no staged .pending file is left; nobody else has a password;
- `iamlayer plan --detailed-exitcode` exits 0 (read without any switch: the truth).

The sweeps prove the same after a SIGKILL of the apply at each distinct write action (held just
before AWS sees the call, or just after AWS applied it), after two kills in a row, and after
losing the answer of each distinct write action (an HTTP 500, or a dropped connection), both for
the apply that creates the organization and for an apply that changes it (deletes and updates).
`test_the_sweeps_cover_every_write_the_apply_makes` keeps the swept action lists equal to what
the applies really send. Each scenario prints FIGURE lines: the figures of the issue's closing note
(`pytest -s`, or `-rP` with xdist, shows them).

Cost: 131 scenarios, each a few real applies of 5 accounts: 18 min on the 2-core development
machine with 2 xdist workers (the all-switches scenario alone 5 min: 20% of calls throttled under
botocore's adaptive retry mode). Nothing is skipped in CI: a skipped proof is no proof.

Sessions expire 1 s after they are issued (`Expire(after=1.0)`): an apply of this organization
takes about 8 s, so each account's session is renewed while it writes. botocore renews them ahead
of time from the Expiration AWS gives; an ExpiredToken answer (a call held past the end, e.g. by
throttling backoff) is met in the all-switches scenario and in tests/integration/test_sessions.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from awsharness import (
    AwsHarness,
    Call,
    Dependents,
    Expire,
    Fault,
    Lag,
    Lose,
    Pages,
    Rule,
    StaleReport,
    Throttle,
)
from gpgkeys import gpg_available
from layer import Layer, killed_apply, run_cli

pytestmark = [
    pytest.mark.proof,
    pytest.mark.skipif(not gpg_available(), reason="needs gpg, as a person decrypts with it"),
]

#: The documented bound on every wait for IAM (README "Plan and apply"; iamlayer.aws.retry).
BOUND_S = 60.0

# -- the organization -----------------------------------------------------------------------------

#: user -> (console password, access key), as the spec asks
ORG_USERS = {
    "jane.doe": (True, False),
    "machine.ci": (False, True),
    "ana.lopez": (True, True),
    "sam.taylor": (False, True),
}
#: the same after CHANGES: ana.lopez removed, jane.doe moved from the console to an access key,
#: sam.taylor's access key taken away
CHANGED_USERS = {"jane.doe": (False, True), "machine.ci": (False, True), "sam.taylor": (False, False)}

LEGACY_POLICY = """\
  legacy-read:
    description: Read legacy buckets
    document: {Version: "2012-10-17",
               Statement: [{Effect: Allow, Action: "s3:List*", Resource: "*"}]}
"""
ORG_EDITS = [
    ("roles:\n", LEGACY_POLICY + "roles:\n"),
    ("auditors: {assume: [Auditor]}", "auditors: {assume: [Auditor], policies: [legacy-read]}"),
    ("groups: [devops]}", "groups: [devops, finops]}"),
    (
        "               console: false, access_key: true}\n",
        "               console: false, access_key: true}\n"
        "  ana.lopez:  {pgp_key: keys/jane.doe, groups: [devops, finops], access_key: true}\n"
        "  sam.taylor: {pgp_key: keys/machine.infra, groups: [finops, auditors], console: false,\n"
        "               access_key: true}\n",
    ),
]
#: an apply that deletes and updates what ORG_EDITS made: every kind of delete and update write
CHANGES = [
    ('Action: ["ce:Get*", "cur:Describe*"]', 'Action: ["ce:Get*", "cur:Describe*", "budgets:View*"]'),
    (LEGACY_POLICY, ""),
    ("  auditors: {assume: [Auditor], policies: [legacy-read]}\n", ""),
    ("groups: [auditors],", "groups: [],"),
    (
        "groups: [finops, auditors], console: false,\n               access_key: true}",
        "groups: [finops], console: false}",
    ),
    (
        "  finops:   {policies: [billing-read, arn:aws:iam::aws:policy/job-function/ViewOnlyAccess],\n"
        '             inline_policies: {reports: {Version: "2012-10-17",\n'
        '               Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "arn:aws:s3:::acme-reports/*"}]}}}',
        "  finops:   {policies: [billing-read]}",
    ),
    ("accounts: [shared, apps-devstg, apps-prd]", "accounts: [shared, apps-prd]"),
    ("max_session_duration: 3600", "max_session_duration: 7200"),
    (
        "policies: [arn:aws:iam::aws:policy/ReadOnlyAccess,\n"
        "                                      arn:aws:iam::aws:policy/SecurityAudit]}",
        "policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}",
    ),
    ("minimum_length: 30", "minimum_length: 32"),
    ("  ana.lopez:  {pgp_key: keys/jane.doe, groups: [devops, finops], access_key: true}\n", ""),
    ("groups: [devops, finops]}", "groups: [devops, finops], console: false, access_key: true}"),
]

#: Every distinct write the apply that creates the organization sends, in the order it first
#: sends them (kept equal to the real apply by test_the_sweeps_cover_every_write_the_apply_makes).
CREATE_WRITES = (
    "UpdateAccountPasswordPolicy",
    "CreateAccountAlias",
    "CreatePolicy",
    "CreateRole",
    "CreateGroup",
    "PutGroupPolicy",
    "AttachRolePolicy",
    "AttachGroupPolicy",
    "CreateUser",
    "AddUserToGroup",
    "CreateLoginProfile",
    "CreateAccessKey",
)
#: The same for the apply of CHANGES.
CHANGE_WRITES = (
    "UpdateAccountPasswordPolicy",
    "CreatePolicyVersion",
    "UpdateRole",
    "PutGroupPolicy",
    "DetachRolePolicy",
    "DetachGroupPolicy",
    "DeleteGroupPolicy",
    "RemoveUserFromGroup",
    "DeleteLoginProfile",
    "DeleteAccessKey",
    "CreateAccessKey",
    "DeleteUser",
    "DeleteRole",
    "DeleteGroup",
    "DeletePolicy",
)


@pytest.fixture
def org(layer: Layer) -> Layer:
    for old, new in ORG_EDITS:
        layer.edit(old, new)
    return layer


def change(layer: Layer) -> None:
    for old, new in CHANGES:
        layer.edit(old, new)


# -- running and checking -------------------------------------------------------------------------


@dataclass
class Applied:
    code: int
    out: str
    err: str
    seconds: float
    calls: list[Call]  # what the harness saw during this apply

    def verified_after(self) -> float:
        """How long the apply said it waited for IAM to show its writes (0: not said)."""
        m = re.search(r"IAM showed every write after (\d+) s", self.out)
        return float(m.group(1)) if m else 0.0


def apply(layer: Layer, harness: AwsHarness, aws_env: dict[str, str]) -> Applied:
    seen, started = len(harness.calls), time.monotonic()
    r = run_cli("apply", "--auto-approve", cwd=layer.root, env=harness.env(aws_env), timeout=600)
    return Applied(r.code, r.out, r.err, time.monotonic() - started, harness.calls[seen:])


def assert_applied(a: Applied, *, rerun: bool = False) -> None:
    """Exit 0, "Verified", and no longer a wait for IAM than the documented bound. A `rerun` after
    a kill may find nothing left to do (killed after the last write went through)."""
    broken = [f"{c.action}: {c.upstream}" for c in a.calls if c.fault == Fault.UPSTREAM_ERROR]
    assert a.code == 0, (a.out + a.err[-5000:], "emulator errors:", broken[:5])  # all of it: which step
    done = "Verified: the accounts match the spec" in a.out
    assert done or (rerun and "No changes. The accounts match the spec." in a.out), a.out[-2000:]
    assert a.verified_after() <= BOUND_S


@dataclass
class Secrets:
    """What the people of the layer hold, checked against AWS."""

    keys: dict[str, list[str]] = field(default_factory=dict)  # user -> live key ids
    passwords: dict[str, str] = field(default_factory=dict)  # user -> decrypted password


def outputs(layer: Layer, user: str) -> Path:
    return layer.root / "outputs" / "security" / user


def passwords_given(harness: AwsHarness) -> dict[str, str]:
    """The password AWS was last given per user: the last Create/UpdateLoginProfile the emulator
    applied and accepted (its answer lost or not)."""
    given: dict[str, str] = {}
    for c in sorted(harness.calls, key=lambda c: c.seq):
        accepted = c.status == 200 or bool(c.upstream)
        if c.action in ("CreateLoginProfile", "UpdateLoginProfile") and c.applied and accepted:
            given[c.params["UserName"]] = c.params["Password"]
    return given


def assert_converged(
    layer: Layer,
    harness: AwsHarness,
    aws_env: dict[str, str],
    users: dict[str, tuple[bool, bool]] = ORG_USERS,
    gone: tuple[str, ...] = (),
) -> Secrets:
    iam = layer.iam("security")
    found = Secrets()
    given = passwords_given(harness)
    for user, (console, wants_key) in users.items():
        folder = outputs(layer, user)
        live = sorted(k["AccessKeyId"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"])
        held = sorted(p.name[len("access-key-") : -len(".asc")] for p in folder.glob("access-key-*.asc"))
        assert len(live) == (1 if wants_key else 0), (user, live)  # no duplicate, none missing
        assert held == live, (user, "ciphertexts", held, "live keys", live)  # no orphan, no stale file
        for key_id in live:
            secret = layer.keys.gpg.decrypt(folder / f"access-key-{key_id}.asc")
            sts = boto3.client("sts", aws_access_key_id=key_id, aws_secret_access_key=secret)
            assert sts.get_caller_identity()["Arn"].endswith(f":user/{user}")
        found.keys[user] = live
        try:
            iam.get_login_profile(UserName=user)
            has_profile = True
        except iam.exceptions.NoSuchEntityException:
            has_profile = False
        assert has_profile == console, user
        assert not (folder / "password.asc.pending").exists(), user
        if console:
            password = layer.keys.gpg.decrypt(folder / "password.asc")
            assert password == given[user], f"{user}: the ciphertext does not hold the live password"
            found.passwords[user] = password
        else:
            assert not (folder / "password.asc").exists(), user
    for user in gone:
        assert user not in {u["UserName"] for u in iam.list_users()["Users"]}
        assert not list(outputs(layer, user).glob("*.asc*")), user
    r = run_cli("plan", "--detailed-exitcode", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out[-3000:] + r.err[-2000:]
    return found


def figure(name: str, **values: Any) -> None:
    print(f"FIGURE {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))


@pytest.fixture
def harness(aws_env: dict[str, str]) -> Iterator[AwsHarness]:
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"], seed=10) as h:
        yield h


# -- each switch alone, and all together -----------------------------------------------------------

SWITCHES: dict[str, dict[str, Any]] = {
    "lag": {"lag": Lag(2.0)},
    "lost-answers": {"lose": Lose(share=0.25, how="either")},
    "throttling": {"throttle": Throttle(0.2)},
    "pages": {"pages": Pages(), "dependents": Dependents()},
    "expiring-sessions": {"expire": Expire(after=0.5)},
    "stale-report": {"stale_report": StaleReport()},
    "all": {
        "lag": Lag(2.0),
        "lose": Lose(share=0.1, how="either"),
        "throttle": Throttle(0.2),
        "pages": Pages(),
        "dependents": Dependents(),
        "expire": Expire(after=1.0),
        "stale_report": StaleReport(),
    },
}


def sessions_renewed_while_writing(calls: list[Call]) -> bool:
    """Some account's writes in one apply were signed by more than one assumed-role session (one
    session per account otherwise: they expired and were renewed on the way)."""
    keys: dict[str, set[str]] = {}
    for c in calls:
        if c.write:
            keys.setdefault(c.account, set()).add(c.access_key)
    return any(len(k) > 1 for k in keys.values())


def count(calls: list[Call], *faults: str) -> int:
    return sum(c.fault in faults for c in calls)


#: each switch is shown to have acted in an apply of its scenario (it tests what it names)
ACTED: dict[str, Callable[[list[Call]], bool]] = {
    "lag": lambda calls: count(calls, Fault.LAG_NOT_FOUND, Fault.STALE) > 0,
    "lost-answers": lambda calls: count(calls, Fault.LOST_500, Fault.LOST_DROP) > 0,
    "throttling": lambda calls: count(calls, Fault.THROTTLED) > 0,
    "pages": lambda calls: any("Marker" in c.params for c in calls),
    "expiring-sessions": sessions_renewed_while_writing,
    "stale-report": lambda calls: count(calls, Fault.REPORT_CACHED) > 0,
}


def crowd(layer: Layer, n: int) -> None:
    """`n` people iamlayer does not own in the people account, all in auditors and with legacy-read
    attached, so that deleting either reads more than one AWS page (100 entries)."""
    iam = layer.iam("security")
    arn = f"arn:aws:iam::{layer.ids['security']}:policy/legacy-read"
    for i in range(n):
        name = f"someone-{i:03d}"
        iam.create_user(UserName=name)
        iam.add_user_to_group(GroupName="auditors", UserName=name)
        iam.attach_user_policy(UserName=name, PolicyArn=arn)


@pytest.mark.parametrize("switch", list(SWITCHES))
def test_apply_converges_under_each_switch_and_all_together(
    org: Layer, aws_env: dict[str, str], switch: str
) -> None:
    """The real apply that creates the 5-account organization, then the one that changes it
    (CHANGES: deletes and updates of every kind), each under one switch or all, each checked."""
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"], seed=3, **SWITCHES[switch]) as h:
        created = apply(org, h, aws_env)
        assert_applied(created)
        assert_converged(org, h, aws_env)
        if switch in ("pages", "all"):
            crowd(org, 105)
        change(org)
        changed = apply(org, h, aws_env)
        assert_applied(changed)
        acted = [name for name, check in ACTED.items() if check(created.calls) or check(changed.calls)]
        assert acted == ([switch] if switch != "all" else list(ACTED)), acted
        assert_converged(org, h, aws_env, CHANGED_USERS, gone=("ana.lopez",))
    for phase, a in (("create", created), ("change", changed)):
        figure(
            f"switch {switch} ({phase})",
            exit=a.code,
            wall_s=round(a.seconds, 1),
            verify_waited_s=a.verified_after(),
        )
    figure(
        f"switch {switch} (both)",
        calls=len(h.calls),
        throttled=h.count(fault=Fault.THROTTLED),
        lost=len(h.lost),
        expired=h.count(fault=Fault.EXPIRED),
        lag_faults=h.count(fault=[Fault.LAG_NOT_FOUND, Fault.STALE, Fault.LAG_DELETE_CONFLICT]),
        paged=sum("Marker" in c.params for c in h.calls),
    )


# -- the sweeps ------------------------------------------------------------------------------------


def distinct_writes(calls: list[Call]) -> list[str]:
    """The write actions among `calls`, each once, in the order first sent."""
    return list(dict.fromkeys(c.action for c in calls if c.write))


def test_the_sweeps_cover_every_write_the_apply_makes(
    org: Layer, aws_env: dict[str, str], harness: AwsHarness
) -> None:
    """The control of the sweeps: the plain applies converge, and the writes they send are exactly
    CREATE_WRITES and CHANGE_WRITES (so no write escapes the kill and lost-answer sweeps)."""
    created = apply(org, harness, aws_env)
    assert_applied(created)
    assert_converged(org, harness, aws_env)
    change(org)
    changed = apply(org, harness, aws_env)
    assert_applied(changed)
    assert_converged(org, harness, aws_env, CHANGED_USERS, gone=("ana.lopez",))
    assert sorted(distinct_writes(created.calls)) == sorted(CREATE_WRITES)
    assert sorted(distinct_writes(changed.calls)) == sorted(CHANGE_WRITES)
    figure("plain", create_wall_s=round(created.seconds, 1), change_wall_s=round(changed.seconds, 1))


PHASES = {"create": CREATE_WRITES, "change": CHANGE_WRITES}


def prepare(
    org: Layer, aws_env: dict[str, str], harness: AwsHarness, phase: str
) -> tuple[dict[str, tuple[bool, bool]], tuple[str, ...]]:
    """Bring the organization to where the phase's apply starts; the users and the gone it ends with."""
    if phase == "create":
        return ORG_USERS, ()
    assert_applied(apply(org, harness, aws_env))
    change(org)
    return CHANGED_USERS, ("ana.lopez",)


def kill_points(phases: dict[str, tuple[str, ...]]) -> list[Any]:
    """One kill point per (phase, write action, hold_before or hold_after)."""
    return [
        pytest.param(phase, action, mode, id=f"{phase}-{action}-{mode}")
        for phase, writes in phases.items()
        for action in writes
        for mode in ("hold_before", "hold_after")
    ]


KILL_POINTS = kill_points(PHASES)


@pytest.mark.parametrize(("phase", "action", "mode"), KILL_POINTS)
def test_killed_at_each_write_the_next_apply_converges(
    org: Layer, aws_env: dict[str, str], harness: AwsHarness, phase: str, action: str, mode: str
) -> None:
    """SIGKILL of the real apply while its first `action` call is held: before AWS saw it
    (hold_before), or after AWS applied it (hold_after). The next apply converges."""
    users, gone = prepare(org, aws_env, harness, phase)
    rule = harness.add(Rule(action, mode))
    assert killed_apply(org.root, harness.env(aws_env), harness, [rule]) is rule
    again = apply(org, harness, aws_env)
    assert_applied(again, rerun=True)
    assert_converged(org, harness, aws_env, users, gone)
    figure(f"kill {phase} {action} {mode}", converged=True, rerun_wall_s=round(again.seconds, 1))


REPEATED_KILLS = [
    pytest.param(action, "hold_after", id=f"{action}-hold_after-then-same-or-next")
    for action in CREATE_WRITES
] + [
    pytest.param(action, "hold_before", id=f"{action}-hold_before-then-same-or-next")
    for action in ("CreateLoginProfile", "CreateAccessKey")
]


@pytest.mark.parametrize(("action", "first"), REPEATED_KILLS)
def test_killed_twice_in_a_row_the_next_apply_converges(
    org: Layer, aws_env: dict[str, str], harness: AwsHarness, action: str, first: str
) -> None:
    """Killed at `action`, then the rerun killed again (hold_after) at the first write it sends of
    `action` or of a later one (CREATE_WRITES order); then one more apply converges."""
    env = harness.env(aws_env)
    rule = harness.add(Rule(action, first))
    assert killed_apply(org.root, env, harness, [rule]) is rule
    later = CREATE_WRITES[CREATE_WRITES.index(action) :]
    caught = killed_apply(org.root, env, harness, [harness.add(Rule(a, "hold_after")) for a in later])
    assert caught is not None, "the rerun finished before any later write"
    again = apply(org, harness, aws_env)
    assert_applied(again, rerun=True)
    assert_converged(org, harness, aws_env)
    figure(f"kill twice {action} {first}", then=caught.action, converged=True)


LOST_POINTS = [
    pytest.param(phase, action, how, id=f"{phase}-{action}-{how}")
    for phase, writes in PHASES.items()
    for action in writes
    for how in ("500", "drop")
]


@pytest.mark.parametrize(("phase", "action", "how"), LOST_POINTS)
def test_a_lost_answer_at_each_write_converges_in_the_same_apply(
    org: Layer, aws_env: dict[str, str], harness: AwsHarness, phase: str, action: str, how: str
) -> None:
    """AWS applies the first `action` call, the client gets an HTTP 500 or a dropped connection.
    The same apply converges: nothing duplicated, no key whose secret nobody holds."""
    users, gone = prepare(org, aws_env, harness, phase)
    harness.lose = Lose(actions=frozenset({action}), how=how, times=1)
    a = apply(org, harness, aws_env)
    assert [c.action for c in harness.lost] == [action], a.out[-3000:] + a.err[-3000:]  # why it was not sent
    assert_applied(a)
    assert_converged(org, harness, aws_env, users, gone)
    figure(f"lost {phase} {action} {how}", converged_same_apply=True, orphan_keys=0)


# -- AWS page sizes: a large group and a widely attached policy ------------------------------------

MEMBERS = 250  # of the group deleted
ATTACHMENTS = 250  # of the policy deleted: 1 group (auditors) + 200 users + 9 groups + 40 roles


def test_deleting_a_250_member_group_and_a_250_attachment_policy_under_aws_pages(
    org: Layer, aws_env: dict[str, str], harness: AwsHarness
) -> None:
    """auditors with 250 members and legacy-read attached to 250 users, groups and roles leave the
    spec; the apply deletes both under AWS page sizes (100 a page), delete conflicts and lag."""
    assert_applied(apply(org, harness, aws_env))
    iam = org.iam("security")
    arn = f"arn:aws:iam::{org.ids['security']}:policy/legacy-read"
    for i in range(MEMBERS - 2):  # machine.ci and sam.taylor are members already
        iam.create_user(UserName=f"member-{i:03d}")
        iam.add_user_to_group(GroupName="auditors", UserName=f"member-{i:03d}")
        if i < 200:
            iam.attach_user_policy(UserName=f"member-{i:03d}", PolicyArn=arn)
    for i in range(9):
        iam.create_group(GroupName=f"readers-{i}")
        iam.attach_group_policy(GroupName=f"readers-{i}", PolicyArn=arn)
    for i in range(40):
        iam.create_role(RoleName=f"reader-{i:02d}", AssumeRolePolicyDocument='{"Version":"2012-10-17"}')
        iam.attach_role_policy(RoleName=f"reader-{i:02d}", PolicyArn=arn)
    assert len(iam.get_group(GroupName="auditors", MaxItems=1000)["Users"]) == MEMBERS
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == ATTACHMENTS

    change(org)
    harness.pages, harness.dependents, harness.lag = Pages(), Dependents(), Lag(2.0)
    a = apply(org, harness, aws_env)
    assert_applied(a)
    assert "auditors" not in {g["GroupName"] for g in iam.list_groups()["Groups"]}
    assert arn not in {p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]}
    assert len(iam.list_users(MaxItems=1000)["Users"]) == MEMBERS - 2 + 3  # the others' users stay
    paged = {c.action for c in a.calls if "Marker" in c.params}
    assert {"GetGroup", "ListEntitiesForPolicy"} <= paged, paged
    assert_converged(org, harness, aws_env, CHANGED_USERS, gone=("ana.lopez",))
    figure(
        "pages delete",
        group_members=MEMBERS,
        policy_attachments=ATTACHMENTS,
        wall_s=round(a.seconds, 1),
        refused_deletes=count(a.calls, Fault.DEPENDENTS, Fault.LAG_DELETE_CONFLICT),
    )
