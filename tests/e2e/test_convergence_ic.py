"""The convergence proof for IAM Identity Center (issue 19, item 4): the real `iamlayer apply`
converges with Identity Center's asynchronous requests, its ConflictException, identitystore's
read lag and AWS's page sizes (tests/awsharness.py: IcAsync, IcConflict, StoreLag, Pages), and
after a SIGKILL or a lost answer at every distinct sso-admin and identitystore write.

The layer: Identity Center (three accounts, the instance in management; the IAM part is the
account aliases and billing-read, a customer-managed policy DevOps references, copied into each
account DevOps is assigned in): three users, two groups with members, three permission sets with
managed, customer-managed and inline policies, and assignments to groups and a user. CHANGES then
removes a user, a group, a permission set, a membership and assignments, and changes DevOps
(policies, inline policy, session, billing-read dropped: its copy in shared goes), which is
re-provisioned where it is assigned: every kind of sso-admin and identitystore write iamlayer makes,
except UpdateUser and UpdateGroup, which the emulator lacks (tests/unit/test_ic_stubbed.py), and
TagResource and the boundary calls, which this layer does not use.

"Converged" (`assert_ic_converged`): the apply exited 0 and said "Verified"; read from the emulator
directly, the instance holds exactly the spec's users, groups, members, permission sets and
assignments, none twice (the plan reads sets, so only this sees a duplicate); the plan, read
without any switch (the truth, in the test's process), is empty, which also says that no
permission set is left outdated where it is provisioned.

The sweeps reuse tests/e2e/test_convergence.py's machinery (apply, assert_applied, killed_apply's
hold rules, Lose): every kill and lost-answer point runs with IcAsync (0.2 s) and IcConflict on,
so a retried write meets the operation its first attempt started; a kill just after AWS accepted
an asynchronous request leaves it in progress for 3 s, which the rerun's plan and writes meet.

Cost: 59 tests (57 kill and lost-answer points), 4.5 min on the 2-core development machine with
2 xdist workers while other test runs shared it (load average 4-5).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_convergence import Applied, apply, distinct_writes, figure, kill_points
from test_convergence import assert_applied as assert_applied_iam

from awsharness import ASYNC_CALLS, AwsHarness, Call, Fault, IcAsync, IcConflict, Lose, Pages, Rule, StoreLag
from iamlayer.plan.planner import make_plan
from iamlayer.spec.load import load_spec
from layer import Keys, Layer, apply_now, fresh_account_ids, killed_apply, session_in

pytestmark = pytest.mark.proof

ACCOUNTS = ("management", "shared", "apps-prd")
SPEC = """\
project: acme
accounts:
{accounts}
people_account: management
policies:
  billing-read:
    description: Read billing data
    document: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Action: "ce:Get*", Resource: "*"}}]}}
identity_center:
  account: management
  users:
    jane.doe: {{email: jane@example.com, given_name: Jane, family_name: Doe}}
    john.roe: {{email: john@example.com, given_name: John, family_name: Roe}}
    ana.lopez: {{email: ana@example.com, given_name: Ana, family_name: Lopez}}
  groups:
    devops: {{description: DevOps team, members: [jane.doe, ana.lopez]}}
    auditors: {{description: Auditors, members: [john.roe]}}
  permission_sets:
    DevOps:
      description: Full access for DevOps
      session_duration: PT4H
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]
      customer_managed_policies: [billing-read]
      inline_policy: {{Version: "2012-10-17", Statement: [{{Effect: Deny, Action: "s3:DeleteBucket", Resource: "*"}}]}}
    ReadOnly:
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
    Legacy:
      policies: [arn:aws:iam::aws:policy/PowerUserAccess]
  assignments:
    - {{group: devops, permission_sets: [DevOps], accounts: [management, shared]}}
    - {{user: john.roe, permission_sets: [ReadOnly], accounts: [shared, apps-prd]}}
    - {{group: auditors, permission_sets: [Legacy], accounts: [shared, apps-prd]}}
"""
#: an apply that deletes and updates what SPEC made. DevOps drops its reference to billing-read
#: and stays assigned in shared: the copy made there for it goes in the same apply, after DevOps
#: is re-provisioned there (the first run of this proof found it left for a second apply).
CHANGES = [
    ("    ana.lopez: {email: ana@example.com, given_name: Ana, family_name: Lopez}\n", ""),
    ("members: [jane.doe, ana.lopez]", "members: [jane.doe]"),
    ("    auditors: {description: Auditors, members: [john.roe]}\n", ""),
    ("      session_duration: PT4H\n", "      session_duration: PT2H\n"),
    (
        "      policies: [arn:aws:iam::aws:policy/AdministratorAccess]\n"
        "      customer_managed_policies: [billing-read]\n"
        '      inline_policy: {Version: "2012-10-17", Statement: [{Effect: Deny, Action: "s3:DeleteBucket", Resource: "*"}]}\n',
        "      policies: [arn:aws:iam::aws:policy/SecurityAudit]\n",
    ),
    ("    Legacy:\n      policies: [arn:aws:iam::aws:policy/PowerUserAccess]\n", ""),
    ("    - {group: auditors, permission_sets: [Legacy], accounts: [shared, apps-prd]}\n", ""),
]

#: what the instance holds after each apply: users, group -> members, permission set -> policies,
#: (principal, permission set, account)
Want = tuple[set[str], dict[str, set[str]], dict[str, set[str]], set[tuple[str, str, str]]]
READ_ONLY = {"arn:aws:iam::aws:policy/ReadOnlyAccess"}
CREATED: Want = (
    {"jane.doe", "john.roe", "ana.lopez"},
    {"devops": {"jane.doe", "ana.lopez"}, "auditors": {"john.roe"}},
    {
        "DevOps": {"arn:aws:iam::aws:policy/AdministratorAccess", "/billing-read", "inline"},
        "ReadOnly": READ_ONLY,
        "Legacy": {"arn:aws:iam::aws:policy/PowerUserAccess"},
    },
    {("devops", "DevOps", a) for a in ("management", "shared")}
    | {("john.roe", "ReadOnly", a) for a in ("shared", "apps-prd")}
    | {("auditors", "Legacy", a) for a in ("shared", "apps-prd")},
)
CHANGED: Want = (
    {"jane.doe", "john.roe"},
    {"devops": {"jane.doe"}},
    {"DevOps": {"arn:aws:iam::aws:policy/SecurityAudit"}, "ReadOnly": READ_ONLY},
    {("devops", "DevOps", a) for a in ("management", "shared")}
    | {("john.roe", "ReadOnly", a) for a in ("shared", "apps-prd")},
)

#: every distinct sso-admin and identitystore write of the apply that creates the layer, and of
#: the one that changes it (kept equal to the real applies by test_the_ic_sweeps_cover_every_write)
CREATE_WRITES = (
    "CreateUser",
    "CreateGroup",
    "CreatePermissionSet",
    "AttachManagedPolicyToPermissionSet",
    "AttachCustomerManagedPolicyReferenceToPermissionSet",
    "PutInlinePolicyToPermissionSet",
    "CreateGroupMembership",
    "CreateAccountAssignment",
)
CHANGE_WRITES = (
    "UpdatePermissionSet",
    "AttachManagedPolicyToPermissionSet",
    "DetachManagedPolicyFromPermissionSet",
    "DetachCustomerManagedPolicyReferenceFromPermissionSet",
    "DeleteInlinePolicyFromPermissionSet",
    "ProvisionPermissionSet",
    "DeleteAccountAssignment",
    "DeleteGroupMembership",
    "DeletePermissionSet",
    "DeleteGroup",
    "DeleteUser",
)
PHASES = {"create": CREATE_WRITES, "change": CHANGE_WRITES}
IC = frozenset({"sso", "identitystore"})
#: Identity Center as the sweeps run it: requests in progress for a while, writes meeting them refused
ASYNC = {"ic_async": IcAsync(seconds=0.2), "ic_conflict": IcConflict()}
#: a kill just after AWS accepted an asynchronous request leaves it in progress this long: the rerun
#: plans and meets it (not listed yet, and its permission set busy)
KILLED_IN_PROGRESS = IcAsync(seconds=3.0)


@pytest.fixture
def ic_org(tmp_path: Path, aws_env: dict[str, str], gpg_keys: Keys) -> Layer:
    ids = dict(zip(ACCOUNTS, fresh_account_ids(len(ACCOUNTS)), strict=True))
    root = tmp_path / "layer"
    root.mkdir()
    layer = Layer(root, "acme", ids, gpg_keys)
    layer.write(SPEC.format(accounts="\n".join(f'  {n}: {{id: "{a}"}}' for n, a in ids.items())))
    return layer


def assert_applied(a: Applied, *, rerun: bool = False) -> None:
    """test_convergence's check, with the end of the apply's output shown when it failed."""
    if a.code != 0:
        print(a.out[-4000:], a.err[-4000:])  # pytest shows it with the failure
    assert_applied_iam(a, rerun=rerun)


def change(layer: Layer) -> None:
    for old, new in CHANGES:
        layer.edit(old, new)


def ic_writes(calls: list[Call]) -> list[str]:
    return [a for a in distinct_writes([c for c in calls if c.service in IC])]


class Instance:
    """The layer's Identity Center instance, read from the emulator directly."""

    def __init__(self, layer: Layer) -> None:
        session = session_in(layer.ids["management"])
        self.sso: Any = session.client("sso-admin")
        self.store: Any = session.client("identitystore")
        found = self.sso.list_instances()["Instances"][0]
        self.arn, self.store_id = found["InstanceArn"], found["IdentityStoreId"]

    def read(self, layer: Layer) -> tuple[Want, list[str]]:
        """What the instance holds, and what it holds twice."""
        twice: list[str] = []
        store = {"IdentityStoreId": self.store_id}
        users = {u["UserId"]: u["UserName"] for u in self._all(self.store, "list_users", "Users", **store)}
        groups = {
            g["GroupId"]: g["DisplayName"] for g in self._all(self.store, "list_groups", "Groups", **store)
        }
        members: dict[str, set[str]] = {}
        for gid, name in groups.items():
            found = [
                users.get(m["MemberId"]["UserId"], m["MemberId"]["UserId"])
                for m in self._all(
                    self.store, "list_group_memberships", "GroupMemberships", GroupId=gid, **store
                )
            ]
            twice += [f"member {name}/{u}" for u in set(found) if found.count(u) > 1]
            members[name] = set(found)
        sets: dict[str, set[str]] = {}
        assignments: set[tuple[str, str, str]] = set()
        accounts = {v: k for k, v in layer.ids.items()}
        names = {**users, **groups}
        for arn in self._all(self.sso, "list_permission_sets", "PermissionSets", InstanceArn=self.arn):
            args = {"InstanceArn": self.arn, "PermissionSetArn": arn}
            name = self.sso.describe_permission_set(**args)["PermissionSet"]["Name"]
            held = {
                p["Arn"]
                for p in self.sso.list_managed_policies_in_permission_set(**args)["AttachedManagedPolicies"]
            }
            held |= {
                f"{r['Path']}{r['Name']}"
                for r in self.sso.list_customer_managed_policy_references_in_permission_set(**args)[
                    "CustomerManagedPolicyReferences"
                ]
            }
            if self.sso.get_inline_policy_for_permission_set(**args).get("InlinePolicy"):
                held.add("inline")
            sets[name] = held
            for account_id, account in accounts.items():
                got = [
                    (names.get(a["PrincipalId"], a["PrincipalId"]), name, account)
                    for a in self.sso.list_account_assignments(AccountId=account_id, **args)[
                        "AccountAssignments"
                    ]
                ]
                twice += [f"assignment {a}" for a in set(got) if got.count(a) > 1]
                assignments |= set(got)
        return (set(users.values()), members, sets, assignments), twice

    @staticmethod
    def _all(client: Any, op: str, key: str, **args: Any) -> list[Any]:
        return [x for page in client.get_paginator(op).paginate(**args) for x in page[key]]


def assert_ic_converged(layer: Layer, harness: AwsHarness, want: Want) -> None:
    harness.ic_settled()  # a request a killed apply left in progress: AWS finishes it anyway
    held, twice = Instance(layer).read(layer)
    assert twice == []
    assert held == want
    assert_plan_empty(layer)


def assert_plan_empty(layer: Layer) -> None:
    """The plan, read from the emulator directly (the truth), is empty: in this process, which
    test_convergence's `iamlayer plan --detailed-exitcode` costs a Python start more than."""
    p = make_plan(load_spec(layer.spec), profile=None)
    assert p.empty, [f"{c.address} ({c.note})" if c.note else str(c.address) for c in p.changes]


def prepare(layer: Layer, phase: str) -> Want:
    """Bring the layer to where the phase's apply starts; what the instance holds after it."""
    if phase == "create":
        return CREATED
    # In this process, straight to the emulator (no waits, no conflicts): a Python start quicker,
    # and out of the harness's record.
    apply_now(layer)
    change(layer)
    return CHANGED


# -- under every Identity Center switch ------------------------------------------------------------

CROWD = 105  # identity-store users iamlayer does not own: ListUsers takes two pages of 100


def test_apply_converges_under_identity_center_s_behaviour(ic_org: Layer, aws_env: dict[str, str]) -> None:
    """Create, then change, with requests IN_PROGRESS for 1 s and some FAILED, ConflictException
    while a permission set is busy and from someone else's operation, identitystore lag and AWS
    pages (sso-admin lists 2 a page when not asked, identitystore 100). A FAILED request fails its
    apply; the next apply converges. iamlayer writes one permission set at a time, so its own
    writes never collide: every ConflictException is someone else's."""
    switches: dict[str, Any] = {
        "ic_async": IcAsync(seconds=1.0, fail_share=0.2, fail_times=2),
        "ic_conflict": IcConflict(others=0.3, others_times=3),
        "store_lag": StoreLag(2.0),
        "pages": Pages(ic_default=2),
    }
    instance = Instance(ic_org)
    for i in range(CROWD):
        instance.store.create_user(
            IdentityStoreId=instance.store_id,
            UserName=f"someone-{i:03d}",
            DisplayName="Someone",
            Name={"GivenName": "Some", "FamilyName": "One"},
        )
    runs: dict[str, list[Applied]] = {}
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"], seed=5, **switches) as h:
        for phase, want in (("create", CREATED), ("change", CHANGED)):
            if phase == "change":
                change(ic_org)
            runs[phase] = []
            while True:
                a = apply(ic_org, h, aws_env)
                runs[phase].append(a)
                if a.code == 0 or len(runs[phase]) == 3:
                    break
                assert "AWS reports FAILED" in a.out + a.err, (a.out + a.err)[-3000:]
                h.ic_settled()
            assert_applied(runs[phase][-1])
            crowd = {f"someone-{i:03d}" for i in range(CROWD)}
            held, twice = instance.read(ic_org)
            assert twice == [] and held[0] - crowd == want[0] and held[1:] == want[1:]
            assert_plan_empty(ic_org)
        calls = h.calls
    acted = {
        "in progress": sum(c.fault == Fault.IC_IN_PROGRESS for c in calls),
        "failed": sum(c.fault == Fault.IC_FAILED for c in calls),
        "conflicts": sum(c.fault == Fault.IC_CONFLICT_OTHERS for c in calls),
        "store lag": sum(c.fault in (Fault.STORE_LAG_NOT_FOUND, Fault.STALE) for c in calls),
        "ic pages": sum(c.service in IC and "NextToken" in c.params for c in calls),
    }
    assert all(acted.values()), acted  # each switch acted
    # One writer per permission set (iamlayer.aws.gateways): none of its writes met its own.
    assert sum(c.fault == Fault.IC_CONFLICT for c in calls) == 0
    figure(
        "identity center switches",
        applies={p: len(r) for p, r in runs.items()},
        wall_s={p: round(sum(a.seconds for a in r), 1) for p, r in runs.items()},
        **{k.replace(" ", "_"): v for k, v in acted.items()},
    )


# -- the sweeps ------------------------------------------------------------------------------------


def test_the_ic_sweeps_cover_every_write_the_apply_makes(ic_org: Layer, aws_env: dict[str, str]) -> None:
    """The control of the sweeps: the plain applies (with ASYNC) converge, and the sso-admin and
    identitystore writes they send are exactly CREATE_WRITES and CHANGE_WRITES."""
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"], seed=10, **ASYNC) as h:
        created = apply(ic_org, h, aws_env)

        assert_applied(created)
        assert_ic_converged(ic_org, h, CREATED)
        change(ic_org)
        changed = apply(ic_org, h, aws_env)
        assert_applied(changed)
        assert_ic_converged(ic_org, h, CHANGED)
    local = ic_org.iam("shared").list_policies(Scope="Local")["Policies"]
    assert "billing-read" not in {p["PolicyName"] for p in local}  # gone in the apply that changed DevOps
    assert sorted(ic_writes(created.calls)) == sorted(CREATE_WRITES)
    assert sorted(ic_writes(changed.calls)) == sorted(CHANGE_WRITES)
    figure("ic plain", create_wall_s=round(created.seconds, 1), change_wall_s=round(changed.seconds, 1))


KILL_POINTS = kill_points(PHASES)


@pytest.mark.parametrize(("phase", "action", "mode"), KILL_POINTS)
def test_killed_at_each_ic_write_the_next_apply_converges(
    ic_org: Layer, aws_env: dict[str, str], phase: str, action: str, mode: str
) -> None:
    """SIGKILL of the real apply while its first `action` call is held: before AWS saw it, or
    after AWS applied (or, for an asynchronous call, accepted) it. The next apply converges."""
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"], seed=10, **ASYNC) as h:
        want = prepare(ic_org, phase)
        rule = h.add(Rule(action, mode))
        if action in ASYNC_CALLS and mode == "hold_after":
            h.ic_async = KILLED_IN_PROGRESS
        assert killed_apply(ic_org.root, h.env(aws_env), h, [rule]) is rule
        h.ic_async = ASYNC["ic_async"]
        again = apply(ic_org, h, aws_env)
        assert_applied(again, rerun=True)
        assert_ic_converged(ic_org, h, want)
    figure(
        f"ic kill {phase} {action} {mode}",
        converged=True,
        rerun_wall_s=round(again.seconds, 1),
        rerun_conflicts=sum(c.fault == Fault.IC_CONFLICT for c in again.calls),
    )


#: each write loses its answer once, as an HTTP 500 or a dropped connection in turn (botocore retries
#: both; test_convergence.py proves both for every IAM write)
LOST_POINTS = [
    pytest.param(phase, action, ("500", "drop")[i % 2], id=f"{phase}-{action}-{('500', 'drop')[i % 2]}")
    for phase, writes in PHASES.items()
    for i, action in enumerate(writes)
]


@pytest.mark.parametrize(("phase", "action", "how"), LOST_POINTS)
def test_a_lost_answer_at_each_ic_write_converges_in_the_same_apply(
    ic_org: Layer, aws_env: dict[str, str], phase: str, action: str, how: str
) -> None:
    """AWS applies (or accepts) the first `action` call, the client gets an HTTP 500 or a dropped
    connection. The same apply converges, nothing made twice."""
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"], seed=10, **ASYNC) as h:
        want = prepare(ic_org, phase)
        h.lose = Lose(actions=frozenset({action}), how=how, times=1)
        a = apply(ic_org, h, aws_env)
        [lost] = h.lost
        assert lost.action == action
        assert_applied(a)
        assert_ic_converged(ic_org, h, want)
    figure(f"ic lost {phase} {action} {how}", converged_same_apply=True)
