"""iamlayer's evaluator held against an independent one: NCC Group's principalmapper.

principalmapper (a test-only dependency) evaluates policies locally in
`principalmapper.querying.local_policy_simulation`; `local_check_authorization_full` combines
identity policies, a permissions boundary and a resource policy (a role's trust policy) the way
its authors read AWS's documentation. It imports on Python 3.11 once the ABCs that moved to
collections.abc in Python 3.10 are aliased back (tests/pmapper_compat.py, in the tests only).

The corpus, all built deterministically:
  (a) every AWS-managed policy moto ships (moto.iam.aws_managed_policies), each against requests
      drawn from its own statements (actions and resources made concrete) and two off-policy
      requests, signed four ways: long-term access key, session without MFA, MFA session, and
      an MFA session that carries the policy's own condition values;
  (b) every policy iamlayer renders for the DESIGN.md example and for the spec `init` writes
      (trust policies, assume-roles policies, self-management in both modes, the group
      marker), with the requests a person's path makes, as each user, at each step's signing;
  (c) the hand-made edge cases of the unit tables (test_access_conditions, test_access_matching).

Where the two disagree, AWS's documentation decides: DISAGREEMENTS records every such case with
the documented reason, the test checks that iamlayer gives the documented answer there, and it
asserts that every other case agrees. `pytest -s` prints the corpus size and agreement rate.
"""

from __future__ import annotations

import collections
import collections.abc
import json
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from access_support import NOW
from spec_support import FIXTURES

from iamlayer.access.context import (
    Caller,
    Credential,
    RequestContext,
    Signing,
    UserRequestFacts,
    user_context,
)
from iamlayer.access.evaluate import PolicySource, Request, evaluate
from iamlayer.access.policy import compile_policy
from iamlayer.plan.desired import desired_state
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Spec
from iamlayer.spec.scaffold import scaffold
from iamlayer.state.model import AccountState, group_marker_document, group_marker_name
from pmapper_compat import Group, Node, Policy, local_check_authorization_full

pytestmark = pytest.mark.proof  # a long proof: `make proof`

PEOPLE = "111111111111"
ROLE_ACCOUNT = "222222222222"
USER = "jane"
SIGNINGS = {
    "key": Signing(Credential.ACCESS_KEY),
    "session": Signing(Credential.SESSION),
    "mfa": Signing.with_mfa(60),
}


@dataclass
class Case:
    """One request, as both evaluators see it."""

    id: str
    corpus: str
    user: str
    user_account: str
    user_path: str
    user_policies: dict[str, dict[str, Any]]  # name -> document, attached to the user
    groups: dict[str, dict[str, dict[str, Any]]]  # group -> name -> document
    action: str
    resource: str
    context: dict[str, str | list[str]]
    trust: dict[str, Any] | None = None
    role_account: str | None = None
    ours: bool | None = field(default=None, compare=False)
    theirs: bool | str | None = field(default=None, compare=False)


# --- the two evaluators ------------------------------------------------------------------------


def ours(case: Case) -> bool:
    caller = Caller.user(case.user_account, case.user, case.user_path)
    identity = [PolicySource(f"user / {n}", None, compile_policy(d)) for n, d in case.user_policies.items()]
    for g, docs in case.groups.items():
        identity += [PolicySource(f"group {g} / {n}", None, compile_policy(d)) for n, d in docs.items()]
    trust = PolicySource("trust", None, compile_policy(case.trust)) if case.trust is not None else None
    request = Request(caller, case.action, case.resource, RequestContext(case.context))
    return evaluate(request, identity, resource_policy=trust, resource_account=case.role_account).allowed


def theirs(case: Case) -> bool | str:
    """principalmapper's answer, or "error: ..." when it cannot evaluate the request."""
    arn = f"arn:aws:iam::{case.user_account}:user{case.user_path}{case.user}"
    groups = [
        Group(
            f"arn:aws:iam::{case.user_account}:group/{g}",
            [Policy(f"arn:aws:iam::{case.user_account}:group/{g}", n, d) for n, d in docs.items()],
        )
        for g, docs in case.groups.items()
    ]
    node = Node(
        arn,
        "AIDAEXAMPLEUSERID0000",
        [Policy(arn, n, d) for n, d in case.user_policies.items()],
        groups,
        None,
        None,
        0,
        True,
        False,
        None,
        False,
        None,
    )
    try:
        return bool(
            local_check_authorization_full(
                node,
                case.action,
                case.resource,
                dict(case.context),
                case.trust,
                case.role_account if case.trust is not None else None,
            )
        )
    except Exception as e:  # principalmapper raises on what it cannot parse (regex, numbers)
        return f"error: {type(e).__name__}"


# --- (a) AWS-managed policies ------------------------------------------------------------------


def _context(
    signing: Signing, account: str = PEOPLE, user: str = USER, path: str = "/"
) -> dict[str, str | list[str]]:
    ctx = user_context(UserRequestFacts(account, user, path), signing, now=NOW)
    return {k: list(v) if len(v) != 1 else v[0] for k, v in ctx.items()}


def _listify(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


_VAR = re.compile(r"\$\{([^}]*)\}")


def _concrete(pattern: str) -> str:
    """A value the pattern matches: variables and wildcards replaced by plain text."""
    text = _VAR.sub(lambda m: USER if m.group(1).lower() == "aws:username" else "var", pattern)
    return text.replace("*", "x1").replace("?", "q")


def _condition_values(document: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """The first value each condition key of the document is compared with, made concrete."""
    out: dict[str, str | list[str]] = {}
    for st in _listify(document.get("Statement")):
        for op, block in (st.get("Condition") or {}).items():
            if op.startswith("Null") or not isinstance(block, Mapping):
                continue
            for key, raw in block.items():
                values = _listify(raw)
                if not values or key.lower() in out:
                    continue
                value = str(values[0]).lower() if isinstance(values[0], bool) else str(values[0])
                if "IpAddress" in op:
                    value = value.split("/")[0]
                elif not op.lstrip("ForAlVuesny:").startswith(("Numeric", "Date")):
                    value = _concrete(value)
                # Context keys are case-insensitive: keep one spelling (principalmapper refuses two).
                out[key.lower()] = [value] if op.startswith("For") else value
    return out


OFF_POLICY = [
    ("iam:CreateUser", f"arn:aws:iam::{PEOPLE}:user/someone"),
    ("sts:AssumeRole", f"arn:aws:iam::{ROLE_ACCOUNT}:role/Admin"),
]
SAMPLE_RESOURCE = "arn:aws:s3:::example-bucket/key"
STATEMENTS_PER_POLICY = 3


def managed_cases() -> Iterator[Case]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    policies = json.loads(aws_managed_policies_data)
    for name in sorted(policies):
        document = policies[name]["Document"]
        requests: list[tuple[str, str]] = []
        for st in _listify(document.get("Statement"))[:STATEMENTS_PER_POLICY]:
            action = _concrete(_listify(st.get("Action"))[0]) if "Action" in st else "iam:CreateUser"
            resources = _listify(st.get("Resource"))
            resource = _concrete(resources[0]) if resources and resources[0] != "*" else SAMPLE_RESOURCE
            requests.append((action, resource))
        requests += OFF_POLICY
        conditions = _condition_values(document)
        for i, (action, resource) in enumerate(dict.fromkeys(requests)):
            contexts = {k: _context(s) for k, s in SIGNINGS.items()}
            if conditions:
                contexts["conditions"] = {**_context(SIGNINGS["mfa"]), **conditions}
            for label, ctx in contexts.items():
                yield Case(
                    f"a/{name}/{i}/{label}",
                    "a",
                    USER,
                    PEOPLE,
                    "/",
                    {name: document},
                    {},
                    action,
                    resource,
                    ctx,
                )


# --- (b) what iamlayer renders, with the person's requests --------------------------------------


#: the specs whose rendered policies are cross-checked: (label, source (None: `init`), edits)
RENDERED_SPECS: list[tuple[str, Path | None, list[tuple[str, str]]]] = [
    ("design", FIXTURES / "design_example.yaml", []),
    ("init", None, []),
    # self-management in its other mode, and a person whose user has a path (issue 9)
    (
        "design-restricted-path",
        FIXTURES / "design_example.yaml",
        [
            ("auditors: {assume: [Auditor]}", "auditors: {assume: [Auditor], self_management: restricted}"),
            (
                "{pgp_key: keys/jane.doe, groups: [devops]}",
                "{pgp_key: keys/jane.doe, groups: [devops], path: /eng/}",
            ),
        ],
    ),
]


def _spec_from(tmp: Path, source: Path | None, edits: list[tuple[str, str]]) -> Spec:
    if source is None:
        scaffold(tmp, example_keys=False)
    else:
        shutil.copy(source, tmp / "iamlayer.yaml")
    (tmp / "keys").mkdir(exist_ok=True)
    for name in ("jane.doe", "machine.infra"):
        (tmp / "keys" / name).write_text("")
    text = (tmp / "iamlayer.yaml").read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    (tmp / "iamlayer.yaml").write_text(text)
    return load_spec(tmp / "iamlayer.yaml", check_keys=False)


def _managed_documents() -> dict[str, dict[str, Any]]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data = json.loads(aws_managed_policies_data)
    return {f"arn:aws:iam::aws:policy{v['Path']}{k}": v["Document"] for k, v in data.items()}


def person_requests(spec: Spec, user: str, states: Mapping[str, AccountState]) -> list[tuple[str, str, str]]:
    """(step, action, resource) of a person's path: first sign-in, MFA enrolment, role use."""
    people = spec.accounts[spec.people_account].id
    path = spec.users[user].path
    me = f"arn:aws:iam::{people}:user{path}{user}"
    other = f"arn:aws:iam::{people}:user/someone-else"
    mfa = f"arn:aws:iam::{people}:mfa/{user}"
    steps = [
        ("session", "iam:GetAccountPasswordPolicy", "*"),
        ("session", "iam:ChangePassword", me),
        ("session", "iam:GetUser", me),
        ("session", "iam:CreateAccessKey", me),
        ("key", "sts:GetCallerIdentity", "*"),
        ("key", "iam:ListMFADevices", me),
        ("key", "iam:CreateVirtualMFADevice", mfa),
        ("key", "iam:EnableMFADevice", me),
        ("key", "iam:DeleteVirtualMFADevice", mfa),
        ("key", "sts:GetSessionToken", "*"),
        ("key", "iam:CreateAccessKey", me),
        ("mfa", "iam:CreateAccessKey", me),
        ("mfa", "iam:DeleteAccessKey", me),
        ("mfa", "iam:CreateAccessKey", other),
        ("mfa", "iam:CreateUser", other),
        ("mfa", "ec2:DescribeInstances", "*"),
    ]
    for account, state in states.items():
        for role in state.roles.values():
            arn = f"arn:aws:iam::{spec.accounts[account].id}:role{role.path}{role.name}"
            steps += [(s, "sts:AssumeRole", arn) for s in SIGNINGS]
    return steps


def rendered_cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Case]:
    managed = _managed_documents()
    for label, source, edits in RENDERED_SPECS:
        spec = _spec_from(tmp_path_factory.mktemp(label), source, edits)
        states = {a: desired_state(spec, a) for a in spec.accounts}
        people = states[spec.people_account]
        groups: dict[str, dict[str, dict[str, Any]]] = {}
        for g in people.groups.values():
            docs = dict(g.inline)
            docs[group_marker_name(spec.project)] = group_marker_document()
            for arn in sorted(g.attached):
                local = next((p for p in people.policies.values() if p.arn == arn), None)
                docs[arn] = local.document if local is not None else managed[arn]
            groups[g.name] = docs
        for user in spec.users.values():
            account = spec.accounts[spec.people_account].id
            for i, (step, action, resource) in enumerate(person_requests(spec, user.name, states)):
                trust, role_account = None, None
                if action == "sts:AssumeRole":
                    role_account = resource.split(":")[4]
                    acc = next(a for a in spec.accounts if spec.accounts[a].id == role_account)
                    trust = states[acc].roles[resource.rsplit("/", 1)[-1]].trust
                yield Case(
                    f"b/{label}/{user.name}/{i}/{step}/{action}",
                    "b",
                    user.name,
                    account,
                    user.path,
                    {},
                    {g: groups[g] for g in user.groups},
                    action,
                    resource,
                    _context(SIGNINGS[step], account, user.name, user.path),
                    trust,
                    role_account,
                )


# --- (c) the unit tables' edge cases -----------------------------------------------------------


def edge_cases() -> Iterator[Case]:
    import test_access_conditions as conditions
    import test_access_matching as matching

    def case(
        cid: str, statement: dict[str, Any], action: str, resource: str, extra: Mapping[str, Any]
    ) -> Case:
        ctx = _context(SIGNINGS["key"])  # keys lower-cased: principalmapper refuses two spellings
        ctx.update({k.lower(): v for k, v in extra.items() if v is not None})
        for k in [k for k, v in extra.items() if v is None]:
            ctx.pop(k.lower(), None)
        document = {"Version": "2012-10-17", "Statement": [statement]}
        return Case(cid, "c", USER, PEOPLE, "/", {"p": document}, {}, action, resource, ctx)

    for row_id, condition, ctx, _ in conditions.ROWS:
        st = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition}
        yield case(f"c/condition/{row_id}", st, "s3:GetObject", SAMPLE_RESOURCE, ctx)
    for row_id, element, action, _ in matching.ACTION_ROWS:
        yield case(
            f"c/action/{row_id}", {"Effect": "Allow", "Resource": "*", **element}, action, SAMPLE_RESOURCE, {}
        )
    for row_id, resource, request_resource, ctx, _ in matching.RESOURCE_ROWS:
        st = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}
        yield case(f"c/resource/{row_id}", st, "s3:GetObject", request_resource, ctx)


# --- where they disagree, and why AWS's documentation sides with iamlayer -----------------------

DOCS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
OPERATORS = f"{DOCS}reference_policies_elements_condition_operators.html"
VARIABLES = f"{DOCS}reference_policies_variables.html"
REASONS = {
    "resource-case": (
        "ARNs match case-sensitively; principalmapper ignores case. "
        f'{DOCS}reference_policies_elements_resource.html: "In a Resource element, the IAM user name is case '
        f'sensitive"; {OPERATORS}#Conditions_ARN: ArnEquals is "Case-sensitive matching of the ARN".'
    ),
    "arn-segments": (
        "ARN wildcards work within colon-separated segments; principalmapper matches the whole ARN as one "
        f"string, so a * in the region runs over a colon. {DOCS}reference_policies_elements_resource.html: "
        '"You can use wildcard characters (* and ?) within the individual segments of an ARN (the parts '
        'separated by colons)"; only a * that ends a segment may "expand to match beyond the colon boundaries".'
    ),
    "condition-variables": (
        "Policy variables are substituted in String and ARN condition values; principalmapper compares the "
        f'text "${{aws:username}}" literally. {VARIABLES}: "You can use a policy variable for Condition values '
        'in any condition that involves the string operators or the ARN operators."'
    ),
    "variable-escapes": (
        "${*}, ${?} and ${$} stand for the characters *, ? and $, and ${key, 'default'} gives a default when "
        f"the key has no value; principalmapper leaves both as text. {VARIABLES} (special characters; "
        "specifying default values)."
    ),
    "variable-key-case": (
        "Variable names are condition keys, and condition keys are case-insensitive; principalmapper "
        f'substitutes a variable only when the context spells its key the same way. {VARIABLES}: "Key names '
        'are case-insensitive."'
    ),
    "variable-no-value": (
        "The row asks about a caller without aws:username (a role session): then a Resource with "
        "${aws:username} matches nothing. principalmapper fills aws:username in from its user node, so it "
        f'answers for a caller that has one. {VARIABLES}: "not present means that the value is not in the '
        'current request information, and any attempt to match it fails".'
    ),
    "negated-missing-key": (
        "A negated operator holds when the key is absent; principalmapper says false for StringNotLike. "
        f'{OPERATORS}: "If the policy condition requires that the key is not matched, such as StringNotLike '
        'or ArnNotLike, and the right key is not present, the condition is true."'
    ),
    "if-exists": (
        "An ...IfExists operator holds when the key is absent, with ForAnyValue too; principalmapper says "
        f'false. {OPERATORS}#Conditions_IfExists: "If the key is not present, evaluate the condition '
        'element as true."'
    ),
    "for-any-value-negated": (
        "ForAnyValue holds when at least one request value satisfies the operator; principalmapper applies "
        "StringNotEquals to the whole set at once (any value equal -> false). "
        f"{DOCS}reference_policies_condition-single-vs-multi-valued-context-keys.html (ForAnyValue: "
        '"at least one member of the set of request context key values matches")'
    ),
    "bool-json": (
        'IAM stores condition values as strings, so the JSON boolean true is "true" (AWS\'s own '
        "AmazonTimestreamFullAccess writes it so); principalmapper compares the Python value True with "
        f'"true". {OPERATORS}#Conditions_Boolean'
    ),
    "numbers-and-dates": (
        "principalmapper raises instead of answering: on a JSON number (it parses values with "
        "ast.literal_eval, expecting text), on a request value that is not a number, and on a date without a "
        f"time (it compares a naive with an aware datetime). IAM accepts numbers and W3C ISO 8601 dates "
        f'({OPERATORS}#Conditions_Date: "one of the W3C implementations of the ISO 8601 date formats"), and a '
        "value that is not a number never satisfies a numeric comparison."
    ),
    "get-caller-identity": (
        "sts:GetCallerIdentity needs no permission and is answered even under an explicit Deny; principalmapper "
        "applies the Deny (here DenyAllExceptListedIfNoMFA, signed with a long-term key). "
        'https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html: "No permissions are '
        "required to perform this operation. If an administrator attaches a policy to your identity that "
        'explicitly denies access to the sts:GetCallerIdentity action, you can still perform this operation."'
    ),
    "variable-no-value-negated": (
        "A policy variable with no value under a negated condition operator (StringNotEquals "
        "${aws:SourceIdentity} for an IAM user, ${aws:PrincipalTag/t} without the tag) makes the statement "
        "invalid: it takes no effect, as an Allow or as a Deny. principalmapper compares the text "
        f'"${{aws:SourceIdentity}}" literally, so its negated condition holds. {VARIABLES} (policy variables '
        "with no value; issue 22, B4)."
    ),
}

#: case id -> (reason, iamlayer's answer, which the documentation backs)
DISAGREEMENTS: dict[str, tuple[str, bool]] = {
    "a/AmazonTimestreamFullAccess/2/conditions": ("bool-json", True),
    "c/condition/Bool JSON boolean": ("bool-json", True),
    "c/condition/ArnEquals is case-sensitive": ("resource-case", False),
    "c/resource/resource names are case-sensitive": ("resource-case", False),
    "c/resource/mid-segment star does not cross a colon": ("arn-segments", False),
    "c/condition/variable in value": ("condition-variables", True),
    "c/condition/ArnLike with a variable": ("condition-variables", True),
    "c/condition/${$} is a dollar": ("variable-escapes", True),
    "c/condition/${*} equals a star": ("variable-escapes", True),
    "c/condition/variable default": ("variable-escapes", True),
    "c/condition/variable default quote": ("variable-escapes", True),
    "c/resource/${$} is a dollar": ("variable-escapes", True),
    "c/resource/${*} matches a star": ("variable-escapes", True),
    "c/resource/variable default": ("variable-escapes", True),
    "c/resource/variable from a tag": ("variable-key-case", True),
    "c/resource/${aws:username} absent: no resource": ("variable-no-value", False),
    "c/condition/StringNotLike missing key is true": ("negated-missing-key", True),
    "c/condition/ForAnyValue IfExists: missing key": ("if-exists", True),
    "c/condition/ForAnyValue:StringNotEquals one outside": ("for-any-value-negated", True),
    "c/condition/Numeric policy value as a JSON number": ("numbers-and-dates", True),
    "c/condition/Numeric value is not a number": ("numbers-and-dates", False),
    "c/condition/Date only": ("numbers-and-dates", True),
    # issue 22: the Deny statement (StringNotEquals ... ${aws:SourceIdentity}) is invalid for an IAM
    # user, so the policy's Allow on athena:* decides
    **{
        f"a/SageMakerStudioUserIAMPermissiveExecutionPolicy/2/{s}": ("variable-no-value-negated", True)
        for s in ("conditions", "key", "mfa", "session")
    },
    "c/condition/variable without value, negated": ("variable-no-value-negated", False),
    **{
        f"b/{spec}/{user}/4/key/sts:GetCallerIdentity": ("get-caller-identity", True)
        for spec in ("design", "design-restricted-path")
        for user in ("jane.doe", "machine.ci")
    },
}


# --- the test ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    cases = [*managed_cases(), *rendered_cases(tmp_path_factory), *edge_cases()]
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    for c in cases:
        c.ours = ours(c)
        c.theirs = theirs(c)
    return cases


def test_iamlayer_and_principalmapper_agree_except_where_aws_documents_otherwise(corpus: list[Case]) -> None:
    differ = {c.id: c for c in corpus if c.ours is not c.theirs}
    by_corpus = collections.Counter(c.corpus for c in corpus)
    agree = len(corpus) - len(differ)
    print(
        f"\ncross-check: {len(corpus)} requests (a: {by_corpus['a']}, b: {by_corpus['b']}, c: {by_corpus['c']}), "
        f"{agree} agree ({agree / len(corpus):.2%}), {len(differ)} differ"
    )
    for cid, c in sorted(differ.items()):
        reason = DISAGREEMENTS.get(cid, ("UNRECORDED", None))[0]
        print(f"  {cid}: iamlayer {c.ours}, principalmapper {c.theirs} [{reason}] {c.action} {c.resource}")
    unrecorded = sorted(set(differ) - set(DISAGREEMENTS))
    assert unrecorded == [], f"{len(unrecorded)} disagreements without a documented reason"
    gone = sorted(set(DISAGREEMENTS) - set(differ))
    assert gone == [], f"recorded disagreements that no longer occur: {gone}"
    for cid, (reason, documented) in DISAGREEMENTS.items():
        assert reason in REASONS
        assert differ[cid].ours is documented, cid
