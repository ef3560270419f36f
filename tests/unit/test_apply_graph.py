"""The dependency graph apply walks (iamlayer.apply.graph) and the walk itself (executor.execute):
edges from the changes' addresses and data, deletes reversed, a cycle refused, and a failure that
holds back only what depends on it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from iamlayer.apply import executor
from iamlayer.apply.graph import build, order
from iamlayer.apply.handlers import HANDLERS, HandlerContext, HandlerSpec
from iamlayer.errors import ApplyError
from iamlayer.plan.model import AccountPlan, Action, Address, Change, Kind, Plan

IDS = {"111111111111": "security", "222222222222": "apps", "333333333333": "management"}
C, U, D = Action.CREATE, Action.UPDATE, Action.DELETE


def ch(
    account: str,
    kind: Kind,
    name: str,
    action: Action = C,
    sub: str = "",
    before: dict[str, Any] | None = None,
    **after: Any,
) -> Change:
    if action is D:
        return Change(Address(account, kind, name, sub), action, before or dict(after), None)
    return Change(Address(account, kind, name, sub), action, before, dict(after))


def arn(account_id: str, policy: str) -> str:
    return f"arn:aws:iam::{account_id}:policy/{policy}"


# security: a policy, a group using it, a user in the group with a password and a key
POLICY = ch("security", Kind.POLICY, "billing-read", path="/")
GROUP = ch("security", Kind.GROUP, "finops", path="/")
ATTACH = ch(
    "security", Kind.GROUP_POLICY_ATTACHMENT, "finops", sub=arn("111111111111", "billing-read"),
    policy_arn=arn("111111111111", "billing-read"),
)  # fmt: skip
AWS_ATTACH = ch(
    "security", Kind.GROUP_POLICY_ATTACHMENT, "finops", sub="arn:aws:iam::aws:policy/ReadOnlyAccess",
    policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess",
)  # fmt: skip
USER = ch("security", Kind.USER, "jane", path="/")
MEMBER = ch("security", Kind.GROUP_MEMBERSHIP, "jane", sub="finops", group="finops")
PASSWORD_POLICY = ch("security", Kind.PASSWORD_POLICY, "account", U, minimum_length=30)
LOGIN = ch("security", Kind.LOGIN_PROFILE, "jane")
OLD_KEY = ch("security", Kind.ACCESS_KEY, "jane", D, sub="AKIAOLD", access_key_id="AKIAOLD")
KEY = ch("security", Kind.ACCESS_KEY, "jane")
# an unrelated role in another account
ROLE = ch("apps", Kind.ROLE, "Auditor", path="/")
ROLE_ATTACH = ch(
    "apps", Kind.ROLE_POLICY_ATTACHMENT, "Auditor", sub="arn:aws:iam::aws:policy/SecurityAudit",
    policy_arn="arn:aws:iam::aws:policy/SecurityAudit",
)  # fmt: skip
# Identity Center, in management: a user, a permission set referencing billing-read, an assignment
# to apps, where the policy is copied; another policy made in apps is unrelated
IC_USER = ch("management", Kind.IC_USER, "ann", display_name="Ann")
PS = ch("management", Kind.PERMISSION_SET, "Billing", customer_managed_policies=["/billing-read"])
COPY = ch("apps", Kind.POLICY, "billing-read", path="/")
OTHER = ch("apps", Kind.POLICY, "unrelated", path="/")
ASSIGN = ch(
    "management", Kind.IC_ASSIGNMENT, "user/ann", sub="Billing@apps", principal_type="USER",
    principal="ann", permission_set="Billing", account_id="222222222222",
)  # fmt: skip
PROVISION_ELSEWHERE = ch(
    "management", Kind.IC_PROVISION, "Billing", U, sub="security", account_id="111111111111",
    permission_set_arn="arn:aws:sso:::permissionSet/ps-1",
)  # fmt: skip
CREATES = [
    PASSWORD_POLICY, POLICY, COPY, OTHER, ROLE, GROUP, IC_USER, PS, ROLE_ATTACH, ATTACH, AWS_ATTACH,
    USER, MEMBER, ASSIGN, LOGIN, OLD_KEY, KEY, PROVISION_ELSEWHERE,
]  # fmt: skip


def edges(changes: list[Change]) -> set[tuple[str, str]]:
    return {(str(b.address), str(a.address)) for b, a in build(changes, IDS).edges()}


def e(before: Change, after: Change) -> tuple[str, str]:
    return (str(before.address), str(after.address))


def test_creates_wait_for_exactly_what_they_use() -> None:
    assert edges(CREATES) == {
        e(POLICY, ATTACH),  # the customer policy before its attachment
        e(GROUP, ATTACH),
        e(GROUP, AWS_ATTACH),  # an AWS-managed policy is nobody's change
        e(ROLE, ROLE_ATTACH),
        e(USER, MEMBER),  # membership after user and group
        e(GROUP, MEMBER),
        e(USER, LOGIN),  # user before login profile and keys
        e(PASSWORD_POLICY, LOGIN),
        e(USER, KEY),
        e(OLD_KEY, KEY),  # a key nobody can read makes room for its replacement
        e(IC_USER, ASSIGN),  # assignment after principal, permission set and the policy there
        e(PS, ASSIGN),
        e(COPY, ASSIGN),  # not OTHER, not the people account's billing-read
        e(PS, PROVISION_ELSEWHERE),  # and the policy it references, there
        e(POLICY, PROVISION_ELSEWHERE),
    }


def test_without_the_permission_sets_change_an_assignment_waits_for_every_policy_of_its_account() -> None:
    got = edges([c for c in CREATES if c is not PS])
    assert {e(COPY, ASSIGN), e(OTHER, ASSIGN)} <= got
    assert e(POLICY, ASSIGN) not in got  # another account's policies never


def test_an_assignment_comes_before_reprovisioning_its_permission_set_in_that_account() -> None:
    provision = ch(
        "management", Kind.IC_PROVISION, "Billing", U, sub="apps", account_id="222222222222",
        permission_set_arn="arn:aws:sso:::permissionSet/ps-1",
    )  # fmt: skip
    got = edges([PS, COPY, OTHER, ASSIGN, provision])
    assert {e(ASSIGN, provision), e(PS, provision), e(COPY, provision)} <= got
    assert e(OTHER, provision) not in got


def test_deletes_run_in_reverse_detaching_first() -> None:
    old = arn("111111111111", "old")
    detach = ch("security", Kind.GROUP_POLICY_ATTACHMENT, "ops", D, sub=old, policy_arn=old)
    policy = ch("security", Kind.POLICY, "old", D, arn=old)
    leave = ch("security", Kind.GROUP_MEMBERSHIP, "bob", D, sub="ops", group="ops")
    group = ch("security", Kind.GROUP, "ops", D, members=["bob"])
    user = ch("security", Kind.USER, "bob", D, groups=["ops"])
    inline = ch("security", Kind.GROUP_INLINE_POLICY, "ops", D, sub="extra", document={})
    assert edges([detach, inline, leave, group, user, policy]) == {
        e(detach, policy),  # detach before delete
        e(detach, group),
        e(inline, group),
        e(leave, group),  # a membership before its group and its user
        e(leave, user),
        e(user, group),  # a user (whose delete leaves its groups) before its group
    }
    # a role or group whose delete detaches the policy goes before the policy
    role = ch(
        "security", Kind.ROLE, "Old", D, attached_policies=[old, "arn:aws:iam::aws:policy/ReadOnlyAccess"]
    )
    group = ch("security", Kind.GROUP, "ops", D, attached_policies=[old], members=[])
    assert edges([role, group, policy]) == {e(role, policy), e(group, policy)}


def test_identity_center_deletes_run_in_reverse() -> None:
    unassign = ch(
        "management", Kind.IC_ASSIGNMENT, "group/ops", D, sub="Old@apps", principal_type="GROUP",
        principal="ops", permission_set="Old", account_id="222222222222",
    )  # fmt: skip
    ps = ch("management", Kind.PERMISSION_SET, "Old", D, arn="ps-arn", customer_managed_policies=["/old"])
    group = ch("management", Kind.IC_GROUP, "ops", D, id="g-1", members=["ann"])
    leave = ch("management", Kind.IC_MEMBERSHIP, "ops", D, sub="ann", user="ann")
    copy = ch("apps", Kind.POLICY, "old", D, arn=arn("222222222222", "old"))
    unrelated = ch("apps", Kind.POLICY, "other", D, arn=arn("222222222222", "other"))
    assert edges([unassign, ps, group, leave, copy, unrelated]) == {
        e(unassign, ps),
        e(unassign, group),
        e(leave, group),
        e(unassign, copy),  # the policy copy goes after the assignment that needed it there
    }


def test_the_same_address_keeps_the_plans_order_and_a_cycle_is_a_bug() -> None:
    adopt = ch("security", Kind.GROUP, "finops", Action.ADOPT, marker="m")
    update = ch("security", Kind.GROUP, "finops", U, path="/x/")
    assert edges([adopt, update]) == {e(adopt, update)}
    # nonsense no differ makes: delete a user, make it again, and give it a password
    gone = ch("security", Kind.USER, "jane", D, groups=[])
    with pytest.raises(ApplyError, match=r"bug in iamlayer: .* cycle.*security/user\.jane"):
        build([gone, USER, LOGIN], IDS)


def test_order_is_the_plans_among_what_is_ready() -> None:
    assert [str(c.address) for c in order([MEMBER, USER, GROUP], IDS)] == [
        "security/user.jane",
        "security/group.finops",
        "security/group_membership.jane/finops",
    ]


def plan_of(changes: list[Change]) -> Plan:
    """A plan of `changes`, each in its account's part."""
    return Plan(
        "acme", "x", "",
        tuple(
            AccountPlan(name, account_id, "", "", "", tuple(c for c in changes if c.address.account == name))
            for account_id, name in IDS.items()
        ),
        "",
    )  # fmt: skip


def test_a_failure_skips_only_its_descendants(monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk: USER fails; its membership, login profile and key are skipped and name it; the
    group, the other account and Identity Center go on, however late their stage."""
    ran: list[str] = []
    lock = threading.Lock()

    def handler(ctx: HandlerContext, change: Change) -> None:
        with lock:
            ran.append(str(change.address))
        if change is USER:
            raise ApplyError("creating user jane: AccessDenied")

    for c in CREATES:
        monkeypatch.setitem(HANDLERS, (c.address.kind, c.action), HandlerSpec(handler, ()))
    plan = plan_of(CREATES)
    contexts: dict[str, Any] = dict.fromkeys(IDS.values())
    seen: list[tuple[str, str | None]] = []
    result = executor.execute(plan, contexts, on_change=lambda c, err: seen.append((str(c.address), err)))
    assert [(f.change, f.error) for f in result.failed] == [(USER, "creating user jane: AccessDenied")]
    names = lambda cs: sorted(str(c.address) for c in cs)  # noqa: E731
    assert names(s.change for s in result.skipped) == names([MEMBER, LOGIN, KEY])
    assert all(s.because is USER for s in result.skipped)
    assert names(result.succeeded) == names(c for c in CREATES if c not in (USER, MEMBER, LOGIN, KEY))
    assert set(ran) == {str(c.address) for c in CREATES} - {str(c.address) for c in (MEMBER, LOGIN, KEY)}
    assert len(seen) == len(ran)  # on_change for every attempted change, never for a skipped one
    assert result.skipped_because(USER) == sorted([MEMBER, LOGIN, KEY], key=lambda c: (c.stage, c.address))
    assert not result.all_applied and not result.ok


def test_a_lost_lock_fences_every_later_write_to_its_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apply asks the fence before each change: once `security`'s lock is lost (after the first
    write there), no later change of that account is written; the other accounts go on."""
    ran: list[str] = []
    lock = threading.Lock()
    lost: set[str] = set()

    def handler(ctx: HandlerContext, change: Change) -> None:
        with lock:
            ran.append(str(change.address))
            if change.address.account == "security":
                lost.add("security")  # the lock is taken over while this write runs

    for c in CREATES:
        monkeypatch.setitem(HANDLERS, (c.address.kind, c.action), HandlerSpec(handler, ()))
    plan = plan_of(CREATES)

    def fence(account: str) -> str | None:
        with lock:
            return "the lock of account security was taken from this command" if account in lost else None

    contexts: dict[str, Any] = dict.fromkeys(IDS.values())
    result = executor.execute(plan, contexts, max_workers=1, fence=fence)
    security = [c for c in CREATES if c.address.account == "security"]
    assert len(security) > 1
    assert [r for r in ran if r.startswith("security/")] == [
        str(security[0].address)
    ]  # one write, then fenced
    assert result.failed and all(
        f.change.address.account == "security"
        and f.error == "not written: the lock of account security was taken from this command"
        for f in result.failed
    )
    # every other account's change ran, unless it waits for a fenced one (a policy's copy)
    held_back = {str(s.change.address) for s in result.skipped}
    others = [str(c.address) for c in CREATES if c.address.account != "security"]
    assert {o for o in others if o in ran} == {o for o in others if o not in held_back}
    assert len(held_back & set(others)) < len(others) / 2
