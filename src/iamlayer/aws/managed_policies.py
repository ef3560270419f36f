"""Documents of AWS-managed policies, read from AWS for the policy evaluator.

GetAccountAuthorizationDetails returns customer-managed policies with their documents, but for
AWS-managed ones (ReadOnlyAccess, ...) only the ARN that is attached. The evaluator needs their
text, so each distinct ARN costs two calls, GetPolicy (its default version) and
GetPolicyVersion: the number of calls follows the distinct policies attached, never the
number of users. AWS-managed policies are the same in every account, so any account's
clients will do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from iamlayer.aws.errors import aws_call
from iamlayer.aws.session import AccountClients
from iamlayer.state.normalize import normalize


def read_policy_documents(clients: AccountClients, arns: Iterable[str]) -> dict[str, dict[str, Any]]:
    """ARN -> default-version document of each managed policy in `arns` (each read once)."""
    iam = clients.client("iam")
    out: dict[str, dict[str, Any]] = {}
    for arn in sorted(set(arns)):
        with aws_call(f"reading managed policy {arn} (GetPolicy) in account {clients.label}"):
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        with aws_call(f"reading managed policy {arn} version {version} (GetPolicyVersion)"):
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        out[arn] = normalize(document)
    return out
