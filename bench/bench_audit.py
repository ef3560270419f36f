"""Measure IL-4 (privilege escalation on the account's real targets) on a large account.

    python bench/bench_audit.py                                   # 500 users, 50 roles, 100 policies
    python bench/bench_audit.py --users 2000 --roles 100 --policies 300

The account is built in memory as GetAccountAuthorizationDetails reports one (nothing touches
AWS): users spread over 10 groups, each group with iamlayer's self-management policy (keys and
password on `user/${aws:username}`) and a few of the customer policies; every tenth user also has
a policy of its own. Customer policies are mostly service access (S3, EC2, Lambda, logs...), some
pass named roles to a named service or manage named users, and a few open an escalation path
(iam:PassRole on `*` with lambda:CreateFunction, iam:AttachUserPolicy on `*`, CreatePolicyVersion
on the holder's own policy). Roles: admin roles trusted by the account with MFA, service roles
trusted by EC2, Lambda, Glue or CloudFormation, application roles trusted by the account.

Times the IL-4 control as the audit runs it (the analysis of every user and role against every
user, group, role and policy), best of --repeat, and prints how many principals are or can
become admin. Target (issue 22): under 10 s for 500 users, 50 roles, 100 customer policies.
Results are printed and written to bench/results/audit-<users>.json.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iamlayer.audit.escalation import analyze
from iamlayer.audit.model import AuthorizationDetails, LiveManagedPolicy, Principal

RESULTS = Path(__file__).resolve().parent / "results"
ACCT = "222222222222"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
SERVICES = ("ec2.amazonaws.com", "lambda.amazonaws.com", "glue.amazonaws.com", "cloudformation.amazonaws.com")
GROUPS = 10


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ACCT}:{kind}/{name}"


SELF_MANAGEMENT = _doc(
    _allow(
        ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:UpdateAccessKey", "iam:ListAccessKeys",
         "iam:ChangePassword", "iam:GetLoginProfile", "iam:UpdateLoginProfile", "iam:CreateVirtualMFADevice",
         "iam:EnableMFADevice"],
        f"arn:aws:iam::{ACCT}:user/${{aws:username}}",
    ),
    {"Effect": "Deny", "NotAction": ["iam:ChangePassword", "iam:EnableMFADevice", "sts:GetSessionToken"],
     "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
)  # fmt: skip


def _policy_doc(i: int, users: int, roles: int) -> dict[str, Any]:
    """The i-th customer policy: service access, named IAM management, or (1 in 20) an escalation."""
    kind = i % 20
    if kind == 0:
        return _doc(
            _allow("iam:PassRole", "*"), _allow(["lambda:CreateFunction", "lambda:InvokeFunction"], "*")
        )
    if kind == 1:
        return _doc(_allow("iam:AttachUserPolicy", "*"))
    if kind == 2:
        return _doc(_allow("iam:CreatePolicyVersion", _arn("policy", f"policy-{i:03d}")))
    if kind in (3, 4):
        role = f"service-{2 * (i % max(1, roles // 2)) + 1:03d}"  # the odd-numbered roles
        return _doc(
            _allow("iam:PassRole", _arn("role", role),
                   Condition={"StringEquals": {"iam:PassedToService": SERVICES[i % len(SERVICES)]}}),
            _allow(["ec2:RunInstances", "lambda:CreateFunction"], "*"),
        )  # fmt: skip
    if kind == 5:
        return _doc(_allow(["iam:GetUser", "iam:ListAccessKeys"], _arn("user", f"person-{i % users:04d}")))
    if kind == 6:
        return _doc(_allow("sts:AssumeRole", _arn("role", f"app-{10 * (i % max(1, roles // 10)) + 2:03d}")))
    service = ("s3", "ec2", "logs", "dynamodb", "sqs", "sns", "cloudwatch", "kms")[i % 8]
    return _doc(_allow([f"{service}:Get*", f"{service}:List*", f"{service}:Describe*"], "*"))


def account(
    users: int, roles: int, policies: int
) -> tuple[AuthorizationDetails, tuple[LiveManagedPolicy, ...]]:
    """The synthetic account, and the AWS-managed policies attached in it (AdministratorAccess)."""
    pols = tuple(
        LiveManagedPolicy(
            f"policy-{i:03d}", _arn("policy", f"policy-{i:03d}"), 1, _policy_doc(i, users, roles)
        )
        for i in range(policies)
    )
    groups = tuple(
        Principal("group", f"team-{g}", _arn("group", f"team-{g}"),
                  attached=tuple(pols[j].arn for j in range(g, len(pols), GROUPS * 3)),
                  inline={"self-management": SELF_MANAGEMENT})
        for g in range(GROUPS)
    )  # fmt: skip
    people = tuple(
        Principal("user", f"person-{u:04d}", _arn("user", f"person-{u:04d}"), groups=(f"team-{u % GROUPS}",),
                  attached=(pols[u % len(pols)].arn,) if u % 10 == 0 and pols else ())
        for u in range(users)
    )  # fmt: skip
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    role_list: list[Principal] = []
    attached: tuple[str, ...]
    for r in range(roles):
        if r % 10 == 0:
            trust = {"AWS": f"arn:aws:iam::{ACCT}:root"}
            name, attached, cond = f"admin-{r:03d}", (ADMIN_ARN,), mfa
        elif r % 2:
            trust, name, attached, cond = (
                {"Service": SERVICES[r % len(SERVICES)]},
                f"service-{r:03d}",
                (),
                None,
            )
        else:
            trust, name, attached, cond = {"AWS": f"arn:aws:iam::{ACCT}:root"}, f"app-{r:03d}", (), None
        statement: dict[str, Any] = {"Effect": "Allow", "Principal": trust, "Action": "sts:AssumeRole"}
        if cond:
            statement["Condition"] = cond
        own = pols[r % len(pols)].arn if pols and not attached else None
        role_list.append(
            Principal(
                "role",
                name,
                _arn("role", name),
                attached=attached or ((own,) if own else ()),
                trust=_doc(statement),
            )
        )
    admin = LiveManagedPolicy("AdministratorAccess", ADMIN_ARN, roles // 10, _doc(_allow("*", "*")))
    return AuthorizationDetails(people, groups, tuple(role_list), pols), (admin,)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--roles", type=int, default=50)
    ap.add_argument("--policies", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args()
    auth, aws = account(args.users, args.roles, args.policies)
    policies = {p.arn: p for p in (*auth.policies, *aws)}
    now = datetime.now(UTC)
    times: list[float] = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        esc = analyze(auth, policies, ACCT, now)
        times.append(time.perf_counter() - t0)
    result = {
        "users": args.users,
        "roles": args.roles,
        "policies": args.policies,
        "seconds": round(min(times), 3),
        "all_seconds": [round(t, 3) for t in times],
        "principals": esc.checked,
        "admins": len(esc.admins),
        "can_become_admin": sum(1 for r in esc.escalations if r.certain),
        "possibly": sum(1 for r in esc.escalations if not r.certain),
        "admin_roles_without_mfa": len(esc.no_mfa),
    }
    print(json.dumps(result, indent=2))
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"audit-{args.users}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
