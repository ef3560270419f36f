"""Apply handlers for the account access manager (service account-access): its application, made
once per account, and the entitlements of Identity Center principals to the spec's IAM roles.

They run in the account where the Identity Center instance lives, after what they use
(iamlayer.kinds: the principal, the application, and the role, made and trusting
account-access.amazonaws.com, in its account); deletes before the role goes. A principal or the
application made by the same apply is resolved when the entitlement runs: the principal by name
(GetUserId/GetGroupId), the application from the gateway, which remembers what it made or found.
"""

from __future__ import annotations

from iamlayer.apply.handlers import HandlerContext, handles
from iamlayer.apply.ic_handlers import INSTANCE, RESOLVE, _ic
from iamlayer.aws.gateways.account_access import AccountAccessGateway, Entitlement
from iamlayer.errors import ApplyError
from iamlayer.plan.model import Action, Change, Kind

#: finding the application for the instance (ListApplications, then GetApplication each)
FIND_APPLICATION = ("account-access:ListApplications", "account-access:GetApplication")


def _access(ctx: HandlerContext) -> AccountAccessGateway:
    if ctx.access is None:
        raise ApplyError(f"account {ctx.account} does not hold the spec's IAM Identity Center instance")
    return ctx.access


def _application(ctx: HandlerContext, known: str) -> str:
    """The application's ARN: as planned, else the one this apply made (or found)."""
    if known:
        return known
    access = _access(ctx)
    app = access.application(_ic(ctx).arn)
    if app is None:
        raise ApplyError(
            f"no account access manager application for the Identity Center instance in account {ctx.account}"
        )
    return app.arn


@handles(
    Kind.ACCESS_APPLICATION,
    Action.CREATE,
    permissions=(
        *INSTANCE,
        "account-access:CreateApplication",
        "account-access:TagResource",
        *FIND_APPLICATION,
    ),
)
def create_application(ctx: HandlerContext, ch: Change) -> None:
    access, a = _access(ctx), ch.after or {}
    access.create_application(a.get("instance_arn") or _ic(ctx).arn, dict(a.get("tags") or {}))


def _wanted(ctx: HandlerContext, data: dict[str, str]) -> Entitlement:
    kind = data["principal_type"]
    principal_id = data.get("principal_id") or _ic(ctx).store.principal_id(kind, data["principal"])
    return Entitlement(data["role_arn"], kind, principal_id)


@handles(
    Kind.ENTITLEMENT,
    Action.CREATE,
    permissions=(
        *INSTANCE,
        "account-access:CreateEntitlement",
        "account-access:ListEntitlements",  # the confirming read after a ConflictException
        *FIND_APPLICATION,
        *RESOLVE,
    ),
)
def create_entitlement(ctx: HandlerContext, ch: Change) -> None:
    access, a = _access(ctx), ch.after or {}
    access.create_entitlement(_application(ctx, a.get("application_arn", "")), _wanted(ctx, a))


@handles(Kind.ENTITLEMENT, Action.DELETE, permissions=("account-access:DeleteEntitlement",))
def delete_entitlement(ctx: HandlerContext, ch: Change) -> None:
    access, b = _access(ctx), ch.before or {}
    access.delete_entitlement(b["application_arn"], b["entitlement_id"])
