"""The old name of the realistic-AWS harness (tests/awsharness.py), kept for tests written against it.

`FaultProxy(url)` is `AwsHarness(url)` with every switch off: a forwarding proxy with `Rule`s.
"""

from awsharness import AwsHarness as FaultProxy
from awsharness import Rule

__all__ = ["FaultProxy", "Rule"]
