"""Post-deployment checks: CIS AWS Foundations IAM controls (`iamlayer audit`) and STS hygiene
(`iamlayer sts-regions`).

The checks are pure functions over values read in bulk by `iamlayer.aws.audit_reads`; nothing in
this package talks to AWS.
"""
