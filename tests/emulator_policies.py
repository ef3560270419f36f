"""The AWS-managed policies the test suite's emulator loads (and no others).

moto would load all 1,582 it ships into every account a test touches: most of the suite's time.
A test or fixture that names a policy outside this set fails tests/unit/test_emulator_policies.py,
which tells it to add the policy here.
"""

from __future__ import annotations

from typing import Final

TEST_MANAGED_POLICIES: Final = frozenset(
    f"arn:aws:iam::aws:policy/{name}"
    for name in (
        "AdministratorAccess",
        "AdministratorAccess-Amplify",
        "AmazonDynamoDBReadOnlyAccess",
        "AmazonEC2ReadOnlyAccess",
        "AmazonS3ReadOnlyAccess",
        "AWSBillingReadOnlyAccess",
        "AWSCloudShellFullAccess",
        "AWSDenyAll",
        "AWSSupportAccess",
        "CloudWatchReadOnlyAccess",
        "IAMReadOnlyAccess",
        "PowerUserAccess",
        "ReadOnlyAccess",
        "SecurityAudit",
        "job-function/Billing",
        "job-function/ViewOnlyAccess",
        "root-task/IAMDeleteRootUserCredentials",
    )
)
