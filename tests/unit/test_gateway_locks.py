"""One writer per permission set (issue 19): apply runs independent changes on a bounded thread
pool, and AWS answers ConflictException while another operation on the same permission set runs
(re-provisioning one set to two accounts, an inline policy put while it is provisioned). The
sso-admin gateway holds a lock per (instance, permission set) for every write, provisioning and
wait on it; different permission sets go on side by side.

The gateway is given a fake sso-admin client whose calls block, so the test sees whether a second
thread's call ran while the first one's was still inside AWS.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from iamlayer.aws.gateways.identity_center import IdentityCenter, Instance, PermissionSetLocks

INSTANCE = Instance("arn:aws:sso:::instance/ssoins-1", "d-1")
PS_A = f"{INSTANCE.arn}/ps-a"
PS_B = f"{INSTANCE.arn}/ps-b"
STATUS = {"RequestId": "r-1", "Status": "IN_PROGRESS"}


class BlockingSso:
    """The first call (`first`) waits up to `patience` s for a second call to arrive meanwhile."""

    def __init__(self, first: str, patience: float = 0.5) -> None:
        self.first = first
        self.patience = patience
        self.first_inside = threading.Event()
        self.second_inside = threading.Event()
        self.overlapped: bool | None = None
        self.calls: list[str] = []

    def _enter(self, call: str) -> None:
        self.calls.append(call)
        if call == self.first:
            self.first_inside.set()
            self.overlapped = self.second_inside.wait(self.patience)
        else:
            self.second_inside.set()

    def put_inline_policy_to_permission_set(self, **kw: Any) -> dict[str, Any]:
        self._enter(f"put {kw['PermissionSetArn']} {kw['InlinePolicy']}")
        return {}

    def provision_permission_set(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(f"provision {kw['PermissionSetArn']} {kw['TargetId']}")
        return {"PermissionSetProvisioningStatus": STATUS}

    def describe_permission_set_provisioning_status(self, **kw: Any) -> dict[str, Any]:
        self._enter("poll")
        return {"PermissionSetProvisioningStatus": {**STATUS, "Status": "SUCCEEDED"}}


def gateway(sso: BlockingSso) -> IdentityCenter:
    return IdentityCenter(
        sso,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        "in account management (us-east-1)",
        sleep=lambda s: None,
        locks=PermissionSetLocks(),
        instance=INSTANCE,
    )


def race(sso: BlockingSso, first: Any, second: Any) -> bool:
    """Start `first`; once its blocking call is inside AWS, start `second`. Whether they overlapped."""
    errors: list[BaseException] = []

    def run(fn: Any) -> None:
        try:
            fn()
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    one = threading.Thread(target=run, args=(first,))
    one.start()
    assert sso.first_inside.wait(5), "the first call never reached AWS"
    two = threading.Thread(target=run, args=(second,))
    two.start()
    one.join(5)
    two.join(5)
    assert not errors, errors
    assert sso.overlapped is not None
    return sso.overlapped


def test_two_writes_to_one_permission_set_run_one_after_the_other() -> None:
    sso = BlockingSso(first=f'put {PS_A} {{"n":1}}')
    ic = gateway(sso)
    overlapped = race(
        sso,
        lambda: ic.sso.put_inline_policy("DevOps", PS_A, {"n": 1}),
        lambda: ic.sso.put_inline_policy("DevOps", PS_A, {"n": 2}),
    )
    assert not overlapped
    assert sso.calls == [f'put {PS_A} {{"n":1}}', f'put {PS_A} {{"n":2}}']


def test_writes_to_different_permission_sets_run_side_by_side() -> None:
    sso = BlockingSso(first=f'put {PS_A} {{"n":1}}')
    ic = gateway(sso)
    assert race(
        sso,
        lambda: ic.sso.put_inline_policy("DevOps", PS_A, {"n": 1}),
        lambda: ic.sso.put_inline_policy("Auditor", PS_B, {"n": 2}),
    )


@pytest.mark.parametrize(("other", "expect_overlap"), [(PS_A, False), (PS_B, True)])
def test_the_wait_for_provisioning_holds_the_permission_sets_lock(other: str, expect_overlap: bool) -> None:
    """Provisioning is asynchronous: the set stays busy until its request SUCCEEDED, so the lock
    is held through the polls, not only the call that started it."""
    sso = BlockingSso(first="poll")
    ic = gateway(sso)
    overlapped = race(
        sso,
        lambda: ic.sso.provision("DevOps", PS_A, "333333333333", "shared"),
        lambda: ic.sso.put_inline_policy("DevOps", other, {"n": 2}),
    )
    assert overlapped is expect_overlap
