"""The few AWS-managed policy documents that are what their name says, by definition.

Every other AWS-managed document (ReadOnlyAccess, SecurityAudit, ...) changes when AWS adds
services, so it is never assumed: offline it is unknown, and `iamlayer access --live` and
`iamlayer plan` read it from AWS (iamlayer.aws.managed_policies).
"""

from __future__ import annotations

from typing import Any, Final

AWS_MANAGED: Final[dict[str, dict[str, Any]]] = {
    "arn:aws:iam::aws:policy/AdministratorAccess": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    },
    "arn:aws:iam::aws:policy/AWSDenyAll": {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "DenyAll", "Effect": "Deny", "Action": ["*"], "Resource": "*"}],
    },
}
