"""The old name of the realistic-AWS harness (tests/awsharness.py), kept so that tests written
against it on branches still in flight keep working; new tests import `awsharness`.

`FaultProxy(url)` is `AwsHarness(url)` with every switch off: a forwarding proxy with `Rule`s,
the call record and the sessions it learns.
"""

from awsharness import AwsHarness as FaultProxy
from awsharness import Call, Rule, Session

__all__ = ["Call", "FaultProxy", "Rule", "Session"]
