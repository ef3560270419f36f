"""The privilege-escalation catalogue: Rhino Security Labs' 21 methods, as data.

Each method says which actions it needs (`steps`), what they are asked on, and what doing it
gives the holder (`effect`):

- BECOME: the holder gets the target principal's permissions (its credentials, or code that
  runs as it): another user's access key or password, a role passed to a service it then runs,
  a role whose trust it rewrites and then assumes.
- GRANT: the holder makes the target admin (a policy attached or written to a user, group or
  role; a new default version of a customer policy, which makes every holder of the policy admin).
- JOIN: the holder adds itself to the target group, and gets the group's permissions.

A step is asked on the method's target resource (`ON_TARGET`: the user, group, role or policy
ARN of the account) or on some resource of its service (`ON_ANY`: `ec2:RunInstances` on some
instance). `passed_to` is the `iam:PassedToService` an `iam:PassRole` step sends, and
`trusted_by` the service principal the passed role must trust. `unread` says why a method can
only be a possible path: the resource it acts on is not read by the audit (existing Lambda
functions and Glue endpoints, a policy's older versions).

A new path is a new entry here; the engine (`iamlayer.audit.escalation`) reads nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

# What a method gives its holder.
BECOME, GRANT, JOIN = "become", "grant", "join"
# The kind of resource a method is aimed at.
USER, GROUP, ROLE, POLICY = "user", "group", "role", "policy"
# Where a step is asked.
ON_TARGET, ON_ANY = "target", "any"


@dataclass(frozen=True)
class Step:
    action: str
    on: str = ON_TARGET  # ON_TARGET or ON_ANY
    passed_to: str | None = None  # iam:PassedToService, for iam:PassRole
    #: for sts:AssumeRole after iam:UpdateAssumeRolePolicy: asked against a trust policy the
    #: holder wrote, naming itself (so the role's present trust does not matter)
    own_trust: bool = False


@dataclass(frozen=True)
class Method:
    name: str
    effect: str  # BECOME, GRANT or JOIN
    target: str  # USER, GROUP, ROLE or POLICY
    steps: tuple[Step, ...]
    how: str  # what the holder does, for people
    trusted_by: str | None = None  # the service the target role must trust (BECOME on ROLE)
    unread: str | None = None  # why the audit cannot be sure: what it does not read


def _pass(service: str, *actions: str) -> tuple[Step, ...]:
    return (Step("iam:PassRole", passed_to=service), *(Step(a, ON_ANY) for a in actions))


EC2, LAMBDA, GLUE = "ec2.amazonaws.com", "lambda.amazonaws.com", "glue.amazonaws.com"
CLOUDFORMATION, DATAPIPELINE = "cloudformation.amazonaws.com", "datapipeline.amazonaws.com"

#: Rhino Security Labs, "AWS IAM Privilege Escalation - Methods and Mitigation", methods 1 to 21.
METHODS: tuple[Method, ...] = (
    Method("CreatePolicyVersion", GRANT, POLICY, (Step("iam:CreatePolicyVersion"),),
           "writes a new default version of a customer policy, allowing anything, for its holders"),
    Method("SetDefaultPolicyVersion", GRANT, POLICY, (Step("iam:SetDefaultPolicyVersion"),),
           "switches a customer policy to another of its versions",
           unread="a policy's other versions are not read: one of them may allow more"),
    Method("PassRole+EC2", BECOME, ROLE, _pass(EC2, "ec2:RunInstances"),
           "runs an instance with the role's instance profile and uses its credentials", trusted_by=EC2),
    Method("CreateAccessKey", BECOME, USER, (Step("iam:CreateAccessKey"),),
           "creates an access key for the user"),
    Method("CreateLoginProfile", BECOME, USER, (Step("iam:CreateLoginProfile"),),
           "sets a console password for the user"),
    Method("UpdateLoginProfile", BECOME, USER, (Step("iam:UpdateLoginProfile"),),
           "changes the user's console password"),
    Method("AttachUserPolicy", GRANT, USER, (Step("iam:AttachUserPolicy"),),
           "attaches AdministratorAccess to the user"),
    Method("AttachGroupPolicy", GRANT, GROUP, (Step("iam:AttachGroupPolicy"),),
           "attaches AdministratorAccess to the group"),
    Method("AttachRolePolicy", GRANT, ROLE, (Step("iam:AttachRolePolicy"),),
           "attaches AdministratorAccess to the role"),
    Method("PutUserPolicy", GRANT, USER, (Step("iam:PutUserPolicy"),),
           "writes an inline policy allowing anything on the user"),
    Method("PutGroupPolicy", GRANT, GROUP, (Step("iam:PutGroupPolicy"),),
           "writes an inline policy allowing anything on the group"),
    Method("PutRolePolicy", GRANT, ROLE, (Step("iam:PutRolePolicy"),),
           "writes an inline policy allowing anything on the role"),
    Method("AddUserToGroup", JOIN, GROUP, (Step("iam:AddUserToGroup"),),
           "adds itself to the group"),
    Method("UpdateAssumeRolePolicy+AssumeRole", BECOME, ROLE,
           (Step("iam:UpdateAssumeRolePolicy"), Step("sts:AssumeRole", own_trust=True)),
           "makes the role trust it, then assumes the role"),
    Method("PassRole+Lambda", BECOME, ROLE, _pass(LAMBDA, "lambda:CreateFunction", "lambda:InvokeFunction"),
           "creates and invokes a function running as the role", trusted_by=LAMBDA),
    Method("PassRole+Lambda+EventSource", BECOME, ROLE,
           _pass(LAMBDA, "lambda:CreateFunction", "lambda:CreateEventSourceMapping"),
           "creates a function running as the role and has an event source (a DynamoDB stream) invoke it",
           trusted_by=LAMBDA),
    Method("UpdateFunctionCode", BECOME, ROLE, (Step("lambda:UpdateFunctionCode", ON_ANY),),
           "replaces the code of an existing function that runs as the role", trusted_by=LAMBDA,
           unread="Lambda functions are not read: any function may run as a role Lambda may assume"),
    Method("PassRole+Glue", BECOME, ROLE, _pass(GLUE, "glue:CreateDevEndpoint"),
           "creates a Glue development endpoint with the role and logs in to it", trusted_by=GLUE),
    Method("UpdateDevEndpoint", BECOME, ROLE, (Step("glue:UpdateDevEndpoint", ON_ANY),),
           "puts its SSH key on an existing Glue development endpoint that runs as the role", trusted_by=GLUE,
           unread="Glue development endpoints are not read: any may run as a role Glue may assume"),
    Method("PassRole+CloudFormation", BECOME, ROLE, _pass(CLOUDFORMATION, "cloudformation:CreateStack"),
           "creates a stack that acts as the role", trusted_by=CLOUDFORMATION),
    Method("PassRole+DataPipeline", BECOME, ROLE,
           _pass(DATAPIPELINE, "datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition"),
           "creates a pipeline that runs commands as the role", trusted_by=DATAPIPELINE),
)  # fmt: skip

#: Not one of Rhino's methods, but how people reach admin roles every day: sts:AssumeRole into a
#: role whose (present) trust policy allows it.
ASSUME_ROLE = Method("AssumeRole", BECOME, ROLE, (Step("sts:AssumeRole"),), "assumes the role")
