"""Issue 22's eight root causes, over every AWS-managed policy the emulator ships: for each
statement that exercises a cause, a request and the answer AWS documents, built here from the
documented rule (not from the evaluator), and a table of how many rows each cause has.

    B1  sts:GetCallerIdentity needs no permission: allowed under every managed Deny that covers it
    B2  an Allow with NotResource <ARNs> covers a request on `*` (an action without resource-level
        permissions)
    B3  a Deny on named ARNs does not apply to a request on `*`
    B4  a negated operator with a policy variable that has no value (an IAM user's direct call has
        no aws:SourceIdentity, no tags here...) makes the statement invalid: it neither allows nor
        denies
    B5  NotResource with a variable that has no value: the same (no managed policy has one)
    B6  Arn* operators match each of the six ARN components: a value whose region or account
        would need a wildcard to run over a colon does not match; the plain value does
    B7  NotPrincipal in a Deny: managed policies are identity policies and have none
    B8  an Allow of iam:CreateAccessKey on `*` does not reach a user in another account

Rows are generated deterministically from moto's copy of the policies (uv.lock pins it); the
counts below change only when that copy or this generation changes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from access_support import NOW

from iamlayer.access.conditions import compile_conditions
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

ACCOUNT = "111111111111"
OTHER = "999999999999"
JANE = Caller.user(ACCOUNT, "jane")
ALLOW_ALL = {"Sid": "AllowAll", "Effect": "Allow", "Action": "*", "Resource": "*"}
NEGATED = re.compile(r"^(ForAllValues:|ForAnyValue:)?(StringNot|ArnNot|NumericNot|DateNot|NotIp)", re.I)
VAR = re.compile(r"\$\{([^},]+)(,[^}]*)?\}")


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _concrete_action(pattern: str) -> str:
    return pattern.replace("*", "Xyz").replace("?", "Q")


def _ctx() -> RequestContext:
    """Jane's direct call with an access key: the keys set are the only ones present."""
    return user_context(UserRequestFacts(ACCOUNT, "jane"), Signing(Credential.ACCESS_KEY), now=NOW)


@dataclass(frozen=True)
class Row:
    cause: str
    policy: str
    statement: int
    action: str
    resource: str
    expected: bool  # allowed (for B6: the condition holds)
    statements: tuple[dict[str, Any], ...] = ()  # the identity policy asked, for B1-B5 and B8
    resource_account: str | None = None
    condition: tuple[str, str, str, str] | None = None  # B6: (operator, key, pattern, value)

    @property
    def id(self) -> str:
        return f"{self.cause}/{self.policy}/{self.statement}/{self.action}/{self.resource}"


def _policies() -> dict[str, dict[str, Any]]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return {name: v["Document"] for name, v in sorted(json.loads(aws_managed_policies_data).items())}


def _covers(patterns: list[str], action: str) -> bool:
    want = action.lower()
    for p in patterns:
        rx = re.escape(p.lower()).replace(r"\*", ".*").replace(r"\?", ".")
        if re.fullmatch(rx, want):
            return True
    return False


def _arn_counterexample(pattern: str) -> str | None:
    """A value that matches `pattern` only if a * in the region or account component ran over a
    colon; None when neither of those components holds a *."""
    parts = pattern.split(":", 5)
    if len(parts) != 6 or "${" in pattern:
        return None
    for i in (3, 4):
        if "*" in parts[i]:
            crossed = list(parts)
            crossed[i] = parts[i].replace("*", "x:y", 1).replace("*", "x")
            crossed[5] = parts[5].replace("*", "x").replace("?", "q")
            return ":".join(
                p.replace("*", "x").replace("?", "q") if j != i else p for j, p in enumerate(crossed)
            )
    return None


def _components_match(pattern: str, value: str) -> bool:
    """The documented rule, on its own: "Each of the six colon-delimited components of the ARN is
    checked separately and each can include multi-character match wildcards (*) or
    single-character match wildcards (?)"."""
    want, got = pattern.split(":", 5), value.split(":", 5)
    if len(want) != 6 or len(got) != 6:
        return False
    for p, v in zip(want, got, strict=True):
        rx = re.escape(p).replace(r"\*", ".*").replace(r"\?", ".")
        if re.fullmatch(rx, v, re.DOTALL) is None:
            return False
    return True


def rows() -> Iterator[Row]:
    present = {k for k, _ in _ctx().items()}
    for name, document in _policies().items():
        for i, st in enumerate(_list(document.get("Statement"))):
            effect = st.get("Effect")
            actions = [str(a) for a in _list(st.get("Action"))]
            conditions = st.get("Condition") or {}
            resources = [str(r) for r in _list(st.get("Resource"))]
            # B1: a Deny that covers sts:GetCallerIdentity (by Action, or by NotAction not naming it)
            if effect == "Deny" and not conditions:
                covered = _covers(actions, "sts:GetCallerIdentity") if actions else False
                if "NotAction" in st:
                    covered = not _covers([str(a) for a in _list(st["NotAction"])], "sts:GetCallerIdentity")
                if covered:
                    yield Row("B1", name, i, "sts:GetCallerIdentity", "*", True, (ALLOW_ALL, st))
            # B2: an Allow with NotResource, no condition, on `*`
            if effect == "Allow" and "NotResource" in st and actions and not conditions:
                not_res = [str(r) for r in _list(st["NotResource"])]
                expected = not any(set(r) <= {"*"} for r in not_res)
                for a in actions[:3]:
                    yield Row("B2", name, i, _concrete_action(a), "*", expected, (st,))
            # B3: a Deny on named ARNs, no condition, on `*`
            if effect == "Deny" and resources and actions and not conditions and "*" not in resources:
                for a in actions[:3]:
                    yield Row("B3", name, i, _concrete_action(a), "*", True, (ALLOW_ALL, st))
            # B4: a negated operator with a variable that has no value for jane
            for op, block in conditions.items():
                if not NEGATED.match(op) or not isinstance(block, dict):
                    continue
                values = [str(v) for vs in block.values() for v in _list(vs)]
                missing = [m for v in values for m in VAR.finditer(v) if m.group(2) is None]
                if not any(m.group(1).strip().lower() not in present for m in missing) or not actions:
                    continue
                action = _concrete_action(actions[0])
                resource = (resources[0] if resources else "*").replace("*", "x1").replace("?", "q")
                if effect == "Allow":
                    yield Row("B4", name, i, action, resource, False, (st,))
                else:
                    yield Row("B4", name, i, action, resource, True, (ALLOW_ALL, st))
                break
            # B5: NotResource with a variable (none today)
            if "NotResource" in st and any("${" in str(r) for r in _list(st["NotResource"])) and actions:
                yield Row("B5", name, i, _concrete_action(actions[0]), "arn:aws:s3:::b/k", effect == "Deny")
            # B6: ARN operators, component by component
            for op, block in conditions.items():
                base = op.split(":")[-1].removesuffix("IfExists")
                if not base.startswith("Arn") or not isinstance(block, dict) or op.startswith("For"):
                    continue
                for key, vs in block.items():
                    for pattern in [str(v) for v in _list(vs)][:2]:
                        crossed = _arn_counterexample(pattern)
                        if crossed is None:
                            continue
                        negated = "Not" in base
                        plain = pattern.replace("*", "x").replace("?", "q")
                        for value in (crossed, plain):
                            expected = _components_match(pattern, value) is not negated
                            yield Row("B6", name, i, op, value, expected, condition=(op, key, pattern, value))
            # B8: iam:CreateAccessKey allowed on `*`, asked on a user of another account
            if (
                effect == "Allow"
                and not conditions
                and "*" in resources
                and _covers(actions, "iam:CreateAccessKey")
            ):
                target = f"arn:aws:iam::{OTHER}:user/jane"
                yield Row("B8", name, i, "iam:CreateAccessKey", target, False, (st,), resource_account=OTHER)


#: rows per cause over moto's AWS-managed policies (B5, B7 and the multivalued-variable rule have
#: no managed statement to exercise; their unit tests are in test_access_documented_rules.py)
COUNTS = {"B1": 10, "B2": 11, "B3": 6, "B4": 9, "B6": 230, "B8": 2}


def _decide(row: Row) -> bool:
    if row.condition is not None:
        op, key, pattern, value = row.condition
        [cond] = compile_conditions({op: {key: pattern}}, variables=True)
        return cond.holds(RequestContext({key: value}))
    document = {"Version": "2012-10-17", "Statement": list(row.statements)}
    request = Request(JANE, row.action, row.resource, _ctx())
    return evaluate(
        request, [PolicySource("p", None, compile_policy(document))], resource_account=row.resource_account
    ).allowed


@pytest.fixture(scope="module")
def table() -> list[Row]:
    return list(rows())


def test_every_managed_policy_row_gets_the_documented_answer(table: list[Row]) -> None:
    wrong = [f"{r.id}: expected {r.expected}" for r in table if _decide(r) is not r.expected]
    counts = Counter(r.cause for r in table)
    print(f"\nmanaged-policy rows per cause: {dict(sorted(counts.items()))}")
    assert wrong == [], f"{len(wrong)} rows wrong, e.g. {wrong[:5]}"
    assert dict(sorted(counts.items())) == COUNTS
