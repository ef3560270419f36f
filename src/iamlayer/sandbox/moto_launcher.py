"""Run moto's server with only some AWS-managed IAM policies loaded.

moto loads every AWS-managed policy it ships (about 1,600) into each account the first time the
account is used: most of the time a test spends making a fresh five-account layer. The test suite
names the few it uses in IAMLAYER_EMULATOR_MANAGED_POLICIES (comma-separated ARNs); the
emulator then knows only those, and an ARN outside the set answers NoSuchEntity as in an AWS
partition that lacks it. The sandbox for users never sets the variable and keeps them all.

moto also ignores ListAccountsForProvisionedPermissionSet's ProvisioningStatus filter: it answers
every account a permission set was ever provisioned to, so a plan that asks AWS which accounts
hold an outdated version (iamlayer.aws.identity_center) would re-provision forever. The launcher
teaches it what AWS does (`_track_provisioning`): a change to a provisioned permission set makes
it outdated there until ProvisionPermissionSet, and the filter answers accordingly.
"""

from __future__ import annotations

import json
import os
import sys

#: comma-separated ARNs of the AWS-managed policies to load; unset means all of them
POLICIES_ENV = "IAMLAYER_EMULATOR_MANAGED_POLICIES"
_PREFIX = "arn:aws:iam::aws:policy/"


def _keep_only(arns: list[str]) -> None:
    from moto.iam import models
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    every = json.loads(aws_managed_policies_data)
    # moto keys its data by the policy's name (the last part of the ARN); the path is inside.
    names = {arn.removeprefix(_PREFIX).rsplit("/", 1)[-1] for arn in arns}
    unknown = sorted(names - every.keys())
    if unknown:
        raise SystemExit(f"{POLICIES_ENV} names policies moto does not ship: {', '.join(unknown)}")
    # moto.iam.models reads the data through a module global it imports without re-exporting it:
    # replacing that global is what trims the policies it loads.
    models.aws_managed_policies_data = json.dumps(  # type: ignore[attr-defined]
        {n: d for n, d in every.items() if n in names}
    )


#: moto's sso-admin calls that change what a provisioned permission set holds
_PERMISSION_SET_WRITES = (
    "update_permission_set",
    "put_inline_policy_to_permission_set",
    "delete_inline_policy_from_permission_set",
    "attach_managed_policy_to_permission_set",
    "detach_managed_policy_from_permission_set",
    "attach_customer_managed_policy_reference_to_permission_set",
    "detach_customer_managed_policy_reference_from_permission_set",
    "put_permissions_boundary_to_permission_set",
    "delete_permissions_boundary_from_permission_set",
)


def _track_provisioning() -> None:
    """Honour ProvisioningStatus as AWS does (moto answers every provisioned account regardless)."""
    import functools
    from typing import Any

    from moto.ssoadmin import models, responses

    outdated: set[str] = set()  # ARNs of permission sets changed since they were last provisioned
    backend = models.SSOAdminBackend

    def marking(name: str) -> None:
        original = getattr(backend, name)

        @functools.wraps(original)
        def write(self: Any, instance_arn: str, permission_set_arn: str, *a: Any, **kw: Any) -> Any:
            out = original(self, instance_arn, permission_set_arn, *a, **kw)
            outdated.add(permission_set_arn)
            return out

        setattr(backend, name, write)

    for name in _PERMISSION_SET_WRITES:
        marking(name)
    provision = backend.provision_permission_set

    @functools.wraps(provision)
    def provisioned(self: Any, instance_arn: str, permission_set_arn: str) -> None:
        provision(self, instance_arn, permission_set_arn)
        outdated.discard(permission_set_arn)

    backend.provision_permission_set = provisioned  # type: ignore[method-assign]
    listing = responses.SSOAdminResponse.list_accounts_for_provisioned_permission_set

    @functools.wraps(listing)
    def filtered(self: Any) -> str:
        answer = json.loads(listing(self))
        status = self._get_param("ProvisioningStatus")
        if status:
            stale = self._get_param("PermissionSetArn") in outdated
            if stale != (status == "LATEST_PERMISSION_SET_NOT_PROVISIONED"):
                answer["AccountIds"] = []
        return json.dumps(answer)

    responses.SSOAdminResponse.list_accounts_for_provisioned_permission_set = filtered  # type: ignore[method-assign]


def _permission_set_boundaries() -> None:
    """Permissions boundaries of permission sets, which moto lacks (it answers HTTP 500, which
    botocore retries for half a minute): Put, Get (ResourceNotFoundException when there is none,
    as AWS answers) and Delete, kept on moto's permission set; a Put or Delete marks it changed."""
    from typing import Any

    from moto.ssoadmin import models, responses
    from moto.ssoadmin.exceptions import ResourceNotFoundException

    backend = models.SSOAdminBackend

    def put(self: Any, instance_arn: str, permission_set_arn: str, boundary: dict[str, Any]) -> None:
        self._find_permission_set(instance_arn, permission_set_arn).iamlayer_boundary = boundary

    def get(self: Any, instance_arn: str, permission_set_arn: str) -> dict[str, Any]:
        found = getattr(
            self._find_permission_set(instance_arn, permission_set_arn), "iamlayer_boundary", None
        )
        if not found:
            raise ResourceNotFoundException(message="The permissions boundary is not found")
        return dict(found)

    def delete(self: Any, instance_arn: str, permission_set_arn: str) -> None:
        self._find_permission_set(instance_arn, permission_set_arn).iamlayer_boundary = None

    backend.put_permissions_boundary_to_permission_set = put  # type: ignore[attr-defined]
    backend.get_permissions_boundary_for_permission_set = get  # type: ignore[attr-defined]
    backend.delete_permissions_boundary_from_permission_set = delete  # type: ignore[attr-defined]

    def answer_put(self: Any) -> str:
        self.ssoadmin_backend.put_permissions_boundary_to_permission_set(
            self._get_param("InstanceArn"),
            self._get_param("PermissionSetArn"),
            self._get_param("PermissionsBoundary"),
        )
        return "{}"

    def answer_get(self: Any) -> str:
        found = self.ssoadmin_backend.get_permissions_boundary_for_permission_set(
            self._get_param("InstanceArn"), self._get_param("PermissionSetArn")
        )
        return json.dumps({"PermissionsBoundary": found})

    def answer_delete(self: Any) -> str:
        self.ssoadmin_backend.delete_permissions_boundary_from_permission_set(
            self._get_param("InstanceArn"), self._get_param("PermissionSetArn")
        )
        return "{}"

    cls = responses.SSOAdminResponse
    cls.put_permissions_boundary_to_permission_set = answer_put  # type: ignore[attr-defined]
    cls.get_permissions_boundary_for_permission_set = answer_get  # type: ignore[attr-defined]
    cls.delete_permissions_boundary_from_permission_set = answer_delete  # type: ignore[attr-defined]


#: set to 1 to log every request the emulator serves (a line each, as moto does by default)
REQUEST_LOG_ENV = "IAMLAYER_EMULATOR_REQUEST_LOG"


def _serve_faster() -> None:
    """Costs moto's server pays on every request, none of them AWS's behaviour: measured with
    py-spy during a no-op plan of 1,000 accounts, where the emulator (one process, one core) is
    what the plan waits on.

    - Finding the service of a request lists moto's package folder (a listdir and ~150 isdir
      calls), under the lock every request takes in turn: the list never changes while it runs,
      so it is made once.
    - A line logged per request (werkzeug's access log) costs more than answering a small read:
      off, unless IAMLAYER_EMULATOR_REQUEST_LOG=1. Errors and warnings are still logged.
    """
    import functools
    import logging

    from moto import backends

    listing = backends.list_of_moto_modules
    backends.list_of_moto_modules = functools.cache(lambda: tuple(listing()))  # type: ignore[assignment]
    if os.environ.get(REQUEST_LOG_ENV) != "1":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _index_access_keys()


def _index_access_keys() -> None:
    """Which account a request's access key belongs to, without a scan of every account.

    moto answers it (get_account_id_from) by looking for the key in the IAM backend of every
    account and partition, on every request: at 1,000 accounts that scan was 44 % of the
    emulator's time in a no-op plan. The answer is the same here: the first account (in moto's
    order) that holds the key, else moto's default account. A key found is remembered with its
    account and checked again on each use (it may have been deleted since); a key found nowhere
    is remembered as such, because AWS access key ids are random and never reissued.
    """
    from typing import Any

    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam import models
    from moto.utilities.utils import PARTITION_NAMES

    found: dict[str, tuple[str, str]] = {}  # access key id -> (account id, partition)
    unknown: set[str] = set()

    def holds(account: Any, partition: str, access_key: str) -> bool:
        return access_key in account[partition].access_keys

    def get_account_id_from(access_key: str) -> str:
        hit = found.get(access_key)
        if hit is not None:
            account_id, partition = hit
            if account_id in models.iam_backends and holds(
                models.iam_backends[account_id], partition, access_key
            ):
                return account_id
            found.pop(access_key, None)  # deleted since
        elif access_key in unknown:
            return DEFAULT_ACCOUNT_ID
        # as moto does: a copy of the accounts (another request may add one meanwhile)
        for account_id, account in list(models.iam_backends.items()):
            for partition in PARTITION_NAMES:
                if holds(account, partition, access_key):
                    found[access_key] = (account_id, partition)
                    return str(account_id)
        unknown.add(access_key)
        return DEFAULT_ACCOUNT_ID

    models.get_account_id_from = get_account_id_from


def main() -> None:
    _serve_faster()
    _permission_set_boundaries()
    _track_provisioning()
    wanted = os.environ.get(POLICIES_ENV)
    if wanted is not None:
        _keep_only([a.strip() for a in wanted.split(",") if a.strip()])
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
