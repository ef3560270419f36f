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


def main() -> None:
    _permission_set_boundaries()
    _track_provisioning()
    wanted = os.environ.get(POLICIES_ENV)
    if wanted is not None:
        _keep_only([a.strip() for a in wanted.split(",") if a.strip()])
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
