"""The account access manager (service `account-access`): the application that entitles IAM
Identity Center users and groups to existing IAM roles, and its entitlements.

Operation names and shapes are botocore's model of the service (account-access 2018-05-10). The
emulator lacks the service: tests/unit/test_account_access_stubbed.py proves these calls with
botocore's Stubber on that model, which validates every request's parameters.

- One application per account: CreateApplication answers AlreadyCreatedException when there is
  one, so the application is found by its identity source (the Identity Center instance) before
  one is made, and iamlayer's carries the tag `iamlayer:project`.
- An entitlement is (principal, role ARN); it has an id of AWS's and no fields to change: a
  change is a delete and a create. ListEntitlements requires a filter: one call per account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iamlayer.aws.gateways.base import gone_is_fine, send
from iamlayer.errors import AlreadyExistsError

GROUP, USER = "GROUP", "USER"
_ID_KEY = {GROUP: "groupId", USER: "userId"}


@dataclass(frozen=True, order=True)
class Entitlement:
    """One entitlement as AWS holds it: an Identity Center principal's right to one role."""

    role_arn: str
    principal_type: str  # GROUP or USER
    principal_id: str
    id: str = field(default="", compare=False)  # AWS's entitlementId ("" for a wanted one)


@dataclass(frozen=True)
class Application:
    arn: str
    tags: dict[str, str]


class AccountAccessGateway:
    """Intent-level calls of the account access manager in one account and region."""

    def __init__(self, client: Any, where: str) -> None:
        self.client = client
        self.where = where
        self._app: Application | None = None

    def application(self, instance_arn: str) -> Application | None:
        """The account's application whose identity source is `instance_arn` (remembered), or None."""
        if self._app is not None:
            return self._app
        pages = self.client.get_paginator("list_applications")
        arns = send(
            f"listing account access applications {self.where}",
            lambda: [a["applicationArn"] for p in pages.paginate() for a in p["applications"]],
        )
        for arn in arns:
            got = self._get_application(arn)
            source = (got.get("identitySource") or {}).get("identityCenter") or {}
            if source.get("instanceArn") == instance_arn and got.get("status") != "DELETE_IN_PROGRESS":
                self._app = Application(str(arn), dict(got.get("tags") or {}))
                return self._app
        return None

    def _get_application(self, arn: str) -> dict[str, Any]:
        got: dict[str, Any] = send(
            f"reading account access application {arn} {self.where}",
            lambda: self.client.get_application(applicationArn=arn),
        )
        return got

    def create_application(self, instance_arn: str, tags: dict[str, str]) -> Application:
        """The application for `instance_arn`: made (tagged `tags`), or the one already there
        (AlreadyCreatedException: an account holds one, made by a lost attempt or by hand)."""
        try:
            got = send(
                f"creating the account access application for {instance_arn} {self.where}",
                lambda: self.client.create_application(
                    identitySource={"identityCenter": {"instanceArn": instance_arn}}, tags=tags
                ),
                races=True,
            )
        except AlreadyExistsError:
            found = self.application(instance_arn)
            if found is None:
                raise
            return found
        self._app = Application(str(got["applicationArn"]), dict(tags))
        return self._app

    def entitlements(self, application_arn: str, account_id: str) -> list[Entitlement]:
        """Every entitlement of the application to roles of `account_id`."""
        pages = self.client.get_paginator("list_entitlements")

        def read() -> list[Entitlement]:
            out = []
            for p in pages.paginate(
                applicationArn=application_arn, filter={"principalRole": {"account": account_id}}
            ):
                for e in p["entitlements"]:
                    pr = e["entitlement"].get("principalRole") or {}
                    who = (pr.get("principal") or {}).get("identityCenter") or {}
                    kind = GROUP if "groupId" in who else USER
                    out.append(Entitlement(pr["roleArn"], kind, who[_ID_KEY[kind]], e["entitlementId"]))
            return out

        return send(f"listing entitlements to roles of account {account_id} {self.where}", read)

    def create_entitlement(self, application_arn: str, wanted: Entitlement) -> str:
        """CreateEntitlement; its id ("" when a confirming read finds it there already: the
        entitlement is (principal, role), so one there is the same one, made by a lost attempt)."""
        try:
            got = send(
                f"entitling {wanted.principal_type.lower()} {wanted.principal_id} to {wanted.role_arn} {self.where}",
                lambda: self.client.create_entitlement(
                    applicationArn=application_arn,
                    entitlement={
                        "principalRole": {
                            "principal": {
                                "identityCenter": {_ID_KEY[wanted.principal_type]: wanted.principal_id}
                            },
                            "roleArn": wanted.role_arn,
                        }
                    },
                ),
                # ConflictException: racing another write, or there already (a lost attempt): a
                # confirming read decides, never the message
                races=True,
                done=lambda: wanted in self.entitlements(application_arn, wanted.role_arn.split(":")[4]),
            )
        except AlreadyExistsError:
            return ""
        return str(got["entitlementId"])

    def delete_entitlement(self, application_arn: str, entitlement_id: str) -> None:
        """DeleteEntitlement; one already gone is fine."""
        with gone_is_fine():
            send(
                f"deleting entitlement {entitlement_id} {self.where}",
                lambda: self.client.delete_entitlement(
                    applicationArn=application_arn, entitlementId=entitlement_id
                ),
                races=True,
            )
