"""Run moto's server with only some AWS-managed IAM policies loaded.

moto loads every AWS-managed policy it ships (about 1,600) into each account the first time the
account is used: most of the time a test spends making a fresh five-account layer. The test suite
names the few it uses in IAMLAYER_EMULATOR_MANAGED_POLICIES (comma-separated ARNs); the
emulator then knows only those, and an ARN outside the set answers NoSuchEntity as in an AWS
partition that lacks it. The sandbox for users never sets the variable and keeps them all.
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
    # moto.iam.models reads this module global when it builds an account (not re-exported: typed as such).
    models.aws_managed_policies_data = json.dumps(  # type: ignore[attr-defined]
        {n: d for n, d in every.items() if n in names}
    )


def main() -> None:
    wanted = os.environ.get(POLICIES_ENV)
    if wanted is not None:
        _keep_only([a.strip() for a in wanted.split(",") if a.strip()])
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
