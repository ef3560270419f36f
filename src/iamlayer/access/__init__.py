"""An IAM policy evaluator for the policies this layer writes and reads. Pure: no I/O, no boto3.

    patterns    wildcards, ARN segments, policy variables
    conditions  condition operators (String*, Arn*, Numeric*, Date*, Bool, Null, IfExists, sets)
    policy      compiled documents; does one statement apply to a request
    context     the caller and the request context (MFA, user name, time...)
    evaluate    whole-request logic: explicit deny, identity, boundary, trust; unknown documents
    principals  users, groups and roles with their labelled policies, from account states
    queries     can(user, action, resource), who_can_assume(role)
    ask         the same questions by name, as `iamlayer access` asks them (QueryError when a
                name is not in the layer)
    checks      the spec's `checks:`, evaluated before any AWS write

Every answer is a `Decision`: allow or deny, how (explicit deny, allow, implicit deny), the
statements that decided it and, for denials, the near misses that explain why.
"""
