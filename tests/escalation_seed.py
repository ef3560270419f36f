"""A seeded account for the privilege-escalation tests: each of Rhino Security Labs' 21 methods
granted to one user on a named resource of the account, and to another on `*`, next to
principals that cannot escalate, admins reached by assuming a role, and an uncertain path.

Built as GetAccountAuthorizationDetails would report it (`AuthorizationDetails`), so the unit
tests and the principalmapper cross-check read the same account.
"""

from __future__ import annotations

from typing import Any

from iamlayer.audit.model import AuthorizationDetails, LiveManagedPolicy, Principal

ACCT = "123456789012"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
ADMIN = LiveManagedPolicy(
    "AdministratorAccess",
    ADMIN_ARN,
    1,
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
)

Doc = dict[str, Any]


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ACCT}:{kind}/{name}"


def allow(*statements: tuple[Any, Any] | Doc) -> Doc:
    """A policy document; each statement an (actions, resources) pair or a whole statement."""
    out = []
    for st in statements:
        if isinstance(st, dict):
            out.append({"Effect": "Allow", **st})
        else:
            out.append({"Effect": "Allow", "Action": st[0], "Resource": st[1]})
    return {"Version": "2012-10-17", "Statement": out}


def trust(principal: Doc, condition: Doc | None = None) -> Doc:
    st: Doc = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        st["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [st]}


ACCOUNT_ROOT = {"AWS": f"arn:aws:iam::{ACCT}:root"}
MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
ANY_FUNCTION = "arn:aws:lambda:*:*:function:*"

# Admin roles, each trusted by one service (what PassRole passes them to).
SERVICE_ADMINS = {
    "AdminEc2": "ec2.amazonaws.com",
    "AdminLambda": "lambda.amazonaws.com",
    "AdminGlue": "glue.amazonaws.com",
    "AdminCfn": "cloudformation.amazonaws.com",
    "AdminPipeline": "datapipeline.amazonaws.com",
}


def grants(me: str) -> dict[str, tuple[Doc, Doc]]:
    """Per method: (the grant on named resources, the grant on `*`), for the user `me`. On `*`,
    the method's own actions; a role the user must then assume stays named (Ops), so that the
    path found is the method's, not assuming an admin role directly."""
    own_policy = arn("policy", f"own-{me}")
    group = arn("group", f"team-{me}")
    ops = arn("role", "Ops")

    def pass_to(role: str, *service_actions: tuple[Any, Any]) -> tuple[Doc, Doc]:
        named = allow(("iam:PassRole", arn("role", role)), *service_actions)
        star = allow(("iam:PassRole", "*"), *((a, "*") for a, _ in service_actions))
        return named, star

    def one(actions: Any, resource: str) -> tuple[Doc, Doc]:
        return allow((actions, resource)), allow((actions, "*"))

    return {
        "CreatePolicyVersion": one("iam:CreatePolicyVersion", own_policy),
        "SetDefaultPolicyVersion": one("iam:SetDefaultPolicyVersion", own_policy),
        "PassRole+EC2": pass_to("AdminEc2", ("ec2:RunInstances", "arn:aws:ec2:*:*:instance/*")),
        "CreateAccessKey": one("iam:CreateAccessKey", arn("user", "admin-user")),
        "CreateLoginProfile": one("iam:CreateLoginProfile", arn("user", "admin-user")),
        "UpdateLoginProfile": one("iam:UpdateLoginProfile", arn("user", "admin-user")),
        "AttachUserPolicy": one("iam:AttachUserPolicy", arn("user", me)),
        "AttachGroupPolicy": one("iam:AttachGroupPolicy", group),
        "AttachRolePolicy": (
            allow(("iam:AttachRolePolicy", ops), ("sts:AssumeRole", ops)),
            allow(("iam:AttachRolePolicy", "*"), ("sts:AssumeRole", ops)),
        ),
        "PutUserPolicy": one("iam:PutUserPolicy", arn("user", me)),
        "PutGroupPolicy": one("iam:PutGroupPolicy", group),
        "PutRolePolicy": (
            allow(("iam:PutRolePolicy", ops), ("sts:AssumeRole", ops)),
            allow(("iam:PutRolePolicy", "*"), ("sts:AssumeRole", ops)),
        ),
        "AddUserToGroup": one("iam:AddUserToGroup", arn("group", "admins")),
        "UpdateAssumeRolePolicy+AssumeRole": (
            allow((["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"], arn("role", "AdminLocked"))),
            # A trust policy naming the user grants by itself in its account: no sts:AssumeRole needed.
            allow(("iam:UpdateAssumeRolePolicy", "*")),
        ),
        "PassRole+Lambda": pass_to(
            "AdminLambda", ("lambda:CreateFunction", ANY_FUNCTION), ("lambda:InvokeFunction", ANY_FUNCTION)
        ),
        "PassRole+Lambda+EventSource": pass_to(
            "AdminLambda", ("lambda:CreateFunction", ANY_FUNCTION), ("lambda:CreateEventSourceMapping", "*")
        ),
        "UpdateFunctionCode": one(
            "lambda:UpdateFunctionCode", f"arn:aws:lambda:us-east-1:{ACCT}:function:deploy"
        ),
        "PassRole+Glue": pass_to("AdminGlue", ("glue:CreateDevEndpoint", "arn:aws:glue:*:*:devEndpoint/*")),
        "UpdateDevEndpoint": one("glue:UpdateDevEndpoint", f"arn:aws:glue:us-east-1:{ACCT}:devEndpoint/dev"),
        "PassRole+CloudFormation": pass_to(
            "AdminCfn", ("cloudformation:CreateStack", "arn:aws:cloudformation:*:*:stack/*")
        ),
        "PassRole+DataPipeline": pass_to(
            "AdminPipeline", ("datapipeline:CreatePipeline", "*"), ("datapipeline:PutPipelineDefinition", "*")
        ),
    }


#: Methods whose resource the audit does not read: found as possible paths, not certain ones.
POSSIBLE_ONLY = {"SetDefaultPolicyVersion", "UpdateFunctionCode", "UpdateDevEndpoint"}

#: Users that cannot escalate, and why.
SAFE = {
    "attach-only": "iam:AttachRolePolicy on every role, but can neither pass nor assume one",
    "self-service": "manages its own keys and password (user/${aws:username})",
    "pass-to-ecs": "iam:PassRole only with iam:PassedToService ecs-tasks.amazonaws.com, which no role trusts",
    "reader": "reads IAM",
    "ops-assumer": "assumes Ops, which is not admin",
}


def seeded_account() -> tuple[AuthorizationDetails, tuple[LiveManagedPolicy, ...], dict[str, str]]:
    """The account, the AWS-managed policies attached in it, and {escalating user: its method}."""
    users: list[Principal] = []
    groups: list[Principal] = [Principal("group", "admins", arn("group", "admins"), attached=(ADMIN_ARN,))]
    policies: list[LiveManagedPolicy] = []
    expected: dict[str, str] = {}
    for i, method in enumerate(grants("x")):
        for variant, pick in (("named", 0), ("star", 1)):
            name = f"{variant}-{i:02d}"
            doc = grants(name)[method][pick]
            own = LiveManagedPolicy(f"own-{name}", arn("policy", f"own-{name}"), 1, doc)
            policies.append(own)
            team = f"team-{name}"
            groups.append(Principal("group", team, arn("group", team)))
            users.append(Principal("user", name, arn("user", name), attached=(own.arn,), groups=(team,)))
            expected[name] = method
    users.append(Principal("user", "admin-user", arn("user", "admin-user"), attached=(ADMIN_ARN,)))
    safe_docs = {
        "attach-only": allow(("iam:AttachRolePolicy", "*")),
        "self-service": allow(
            (
                ["iam:CreateAccessKey", "iam:UpdateLoginProfile", "iam:CreateLoginProfile"],
                f"arn:aws:iam::{ACCT}:user/${{aws:username}}",
            ),
        ),
        "pass-to-ecs": allow(
            {
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
            (["ec2:RunInstances", "lambda:CreateFunction", "lambda:InvokeFunction"], "*"),
        ),
        "reader": allow((["iam:Get*", "iam:List*"], "*")),
        "ops-assumer": allow(("sts:AssumeRole", arn("role", "Ops"))),
    }
    for name, doc in safe_docs.items():
        users.append(Principal("user", name, arn("user", name), inline={"p": doc}))
    # Reached by assuming: an admin role with MFA in its trust, one without.
    users.append(Principal("user", "devops", arn("user", "devops"),
                           inline={"p": allow(("sts:AssumeRole", arn("role", "AdminMfa")))}))  # fmt: skip
    users.append(Principal("user", "lazy", arn("user", "lazy"),
                           inline={"p": allow(("sts:AssumeRole", arn("role", "AdminNoMfa")))}))  # fmt: skip
    # A role that can make itself admin, and a user who can assume it.
    deployer = allow(("iam:AttachRolePolicy", arn("role", "Deployer")))
    users.append(Principal("user", "dev", arn("user", "dev"),
                           inline={"p": allow(("sts:AssumeRole", arn("role", "Deployer")))}))  # fmt: skip
    # Uncertain: a key for users tagged team=ops only; the audit does not read tags.
    tagged = allow(
        {"Action": "iam:CreateAccessKey", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "ops"}}}
    )  # fmt: skip
    users.append(Principal("user", "maybe", arn("user", "maybe"), inline={"p": tagged}))
    roles = [
        Principal("role", name, arn("role", name), attached=(ADMIN_ARN,), trust=trust({"Service": svc}))
        for name, svc in SERVICE_ADMINS.items()
    ]
    roles += [
        Principal("role", "AdminLocked", arn("role", "AdminLocked"), attached=(ADMIN_ARN,),
                  trust=trust({"Service": "ssm.amazonaws.com"})),
        Principal("role", "Ops", arn("role", "Ops"), inline={"p": allow(("s3:*", "*"))}, trust=trust(ACCOUNT_ROOT)),
        Principal("role", "AdminMfa", arn("role", "AdminMfa"), attached=(ADMIN_ARN,),
                  trust=trust(ACCOUNT_ROOT, MFA)),
        Principal("role", "AdminNoMfa", arn("role", "AdminNoMfa"), attached=(ADMIN_ARN,), trust=trust(ACCOUNT_ROOT)),
        Principal("role", "Deployer", arn("role", "Deployer"), inline={"p": deployer}, trust=trust(ACCOUNT_ROOT)),
    ]  # fmt: skip
    auth = AuthorizationDetails(tuple(users), tuple(groups), tuple(roles), tuple(policies))
    return auth, (ADMIN,), expected
