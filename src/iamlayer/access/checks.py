"""The spec's `checks:`: who may do what, evaluated against what iamlayer renders, before any
AWS write (`iamlayer validate`, and `iamlayer plan`/`apply` before they connect).

    {who: jane.doe, can: sts:AssumeRole, on: role/DevOps@apps-prd, mfa: true}
    {who: "*", cannot: sts:AssumeRole, on: role/DevOps@*, mfa: false}
    {who: group/auditors, cannot: "iam:CreateUser", on: "*"}

A check expands into requests, and holds when every request gets the answer it states:
- who: a user; `group/<name>`: every member, and a member of that group alone (so the check
  speaks for the group's own policies even before it has members); `*`: every user.
- on: an ARN; `*`: every resource (`can` holds when allowed on all of them, `cannot` when
  allowed on none); `role/<name>@<account>`, or `@*` for every account the role is in.
- mfa: true: an MFA sign-in (`mfa_age` seconds old, default 0); false: without MFA, both with
  a long-term access key and with a session (console sign-in); omitted: all three.

A check that fails is a spec error at its line, naming the deciding statement. One that
depends on a document not known offline (an AWS-managed policy) is undecided: a warning that
names the policy; `iamlayer plan` reads those documents from AWS and decides it. One whose
answer depends on a request context key the evaluator cannot know (aws:SourceIp, a resource's
tags...) fails closed for `cannot:` (it may be allowed: an error naming the keys) and is an
undecided warning for `can:`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from iamlayer.access.context import NO_MFA_SIGNINGS, Signing
from iamlayer.access.evaluate import Decision, DecisionKind
from iamlayer.access.policy import ResourceMode
from iamlayer.access.principals import AccessModel, UserModel, model_from_spec
from iamlayer.access.queries import Target, can, target_for_arn
from iamlayer.errors import Diagnostic, SpecError
from iamlayer.spec.model import EVERY_ACCOUNT, Check, Spec, parse_role_ref

#: counterexamples named in one diagnostic; the rest are counted
SHOWN = 3


@dataclass(frozen=True)
class Counterexample:
    """One request of a check that got the other answer."""

    who: str
    target: str
    signing: Signing
    decision: Decision

    def describe(self, check: Check) -> str:
        if self.decision.unknown_keys and not check.can:
            undecided = "; ".join(str(m) for m in self.decision.undecided)
            return (
                f"{self.who} may be able to {check.action} on {self.target} {self.signing.describe()}: "
                f"it depends on {', '.join(self.decision.unknown_keys)}, which the evaluator cannot know"
                + (f" ({undecided})" if undecided else "")
            )
        verb = "can" if self.decision.allowed else "cannot"
        why = "; ".join(self.decision.explain()) if self.decision.kind is not DecisionKind.ALLOW else ""
        if self.decision.allowed:
            why = "allowed by " + " and ".join(str(s) for s in self.decision.deciding)
        return f"{self.who} {verb} {check.action} on {self.target} {self.signing.describe()}: {why}"


@dataclass(frozen=True)
class CheckResult:
    check: Check
    failures: tuple[Counterexample, ...]
    unknown: tuple[str, ...]  # documents that could decide it, when it is undecided
    requests: int
    unknown_keys: tuple[str, ...] = ()  # context keys that could decide a `can:` check

    @property
    def holds(self) -> bool | None:
        """True/False, or None when it depends on documents or context keys not known."""
        if self.failures:
            return False
        return None if self.unknown or self.unknown_keys else True


def _subjects(model: AccessModel, who: str) -> list[UserModel]:
    if who == "*":
        return [model.users[u] for u in sorted(model.users)]
    if who.startswith("group/"):
        group = who[len("group/") :]
        members = [model.users[m] for m in model.groups[group].members if m in model.users]
        return [model.stand_in(group), *members]
    return [model.users[who]]


def _targets(model: AccessModel, on: str) -> list[Target]:
    if on == "*":
        return [Target.everything()]
    ref = parse_role_ref(on)
    if ref is not None:
        name, account = ref
        if account == EVERY_ACCOUNT:
            return [Target(r.arn, r) for r in model.roles_named(name)]
        role = model.role(name, account)
        return [Target(role.arn, role)] if role is not None else []
    return [target_for_arn(model, on)]


def _signings(check: Check) -> list[Signing]:
    if check.mfa is True or check.mfa_age is not None:
        return [Signing.with_mfa(check.mfa_age or 0)]
    if check.mfa is False:
        return list(NO_MFA_SIGNINGS)
    return [*NO_MFA_SIGNINGS, Signing.with_mfa(0)]


def _who(user: UserModel) -> str:
    return f"a member of group {user.groups[0]} alone" if user.stand_in else user.name


def run_check(model: AccessModel, check: Check, *, now: datetime) -> CheckResult:
    mode = ResourceMode.ALL if check.can else ResourceMode.ANY
    failures: list[Counterexample] = []
    unknown: set[str] = set()
    unknown_keys: dict[str, None] = {}
    requests = 0
    for user in _subjects(model, check.who):
        for target in _targets(model, check.on):
            for signing in _signings(check):
                d = can(model, user, check.action, target, signing, now=now, mode=mode)
                requests += 1
                if d.unknown_keys and not check.can:
                    # `cannot:` fails closed: a request that may be allowed is a counterexample.
                    failures.append(Counterexample(_who(user), target.label, signing, d))
                elif not d.certain:
                    unknown.update(d.unknown)
                    unknown_keys.update(dict.fromkeys(d.unknown_keys))
                elif d.allowed != check.can:
                    failures.append(Counterexample(_who(user), target.label, signing, d))
    return CheckResult(check, tuple(failures), tuple(sorted(unknown)), requests, tuple(unknown_keys))


def _text(check: Check) -> str:
    mfa = {True: ", mfa: true", False: ", mfa: false", None: ""}[check.mfa]
    age = f", mfa_age: {check.mfa_age}" if check.mfa_age is not None else ""
    verb = "can" if check.can else "cannot"
    return f"{{who: {check.who}, {verb}: {check.action}, on: {check.on}{mfa}{age}}}"


@dataclass(frozen=True)
class CheckReport:
    """Every check of a spec, evaluated."""

    spec: Spec
    results: tuple[CheckResult, ...]

    def unknown_policies(self) -> set[str]:
        return {p for r in self.results if r.holds is None for p in r.unknown}

    def diagnostics(self) -> list[Diagnostic]:
        """An error per failing check, a warning per undecided one."""
        out: list[Diagnostic] = []
        file = str(self.spec.path)
        for r in self.results:
            if r.failures:
                first = r.failures[0].describe(r.check)
                more = len(r.failures) - 1
                extra = ""
                if more:
                    others = "; ".join(
                        f"{f.who} on {f.target} {f.signing.describe()}" for f in r.failures[1:SHOWN]
                    )
                    extra = f" (and {more} more: {others}{'; ...' if more >= SHOWN else ''})"
                out.append(
                    Diagnostic(
                        file,
                        r.check.line,
                        r.check.path,
                        f"check {_text(r.check)} does not hold: {first}{extra}",
                        "change the policies or the check; `iamlayer access can` explains one request",
                    )
                )
            elif r.unknown_keys and not r.unknown:
                out.append(
                    Diagnostic(
                        file,
                        r.check.line,
                        r.check.path,
                        f"check {_text(r.check)} cannot be decided: it depends on the request context "
                        f"key(s) {', '.join(r.unknown_keys)}, whose value the evaluator cannot know",
                        "`iamlayer access can ... --context KEY=VALUE` answers for a given value",
                        "warning",
                    )
                )
            elif r.unknown:
                out.append(
                    Diagnostic(
                        file,
                        r.check.line,
                        r.check.path,
                        f"check {_text(r.check)} cannot be decided offline: it depends on "
                        f"{', '.join(r.unknown)}, whose document is not in the spec",
                        "`iamlayer plan` reads it from AWS and decides the check",
                        "warning",
                    )
                )
        return out

    def raise_for_failures(self) -> list[Diagnostic]:
        """Raise SpecError (every diagnostic) when a check fails; else return the warnings."""
        diagnostics = self.diagnostics()
        if any(d.severity == "error" for d in diagnostics):
            raise SpecError(diagnostics)
        return diagnostics

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {
                "check": r.check.path,
                "line": r.check.line,
                "holds": r.holds,
                "requests": r.requests,
                "failures": [f.describe(r.check) for f in r.failures],
                "unknown_policies": list(r.unknown),
                "unknown_context_keys": list(r.unknown_keys),
            }
            for r in self.results
        ]


def evaluate_checks(
    spec: Spec, *, now: datetime, managed: Mapping[str, Mapping[str, Any]] | None = None
) -> CheckReport:
    """Evaluate every check of `spec` against what iamlayer renders from it (no AWS call).

    `managed` gives AWS-managed documents read from AWS, to decide checks that depend on them.
    """
    if not spec.checks:
        return CheckReport(spec, ())
    model = model_from_spec(spec, managed=managed)
    return CheckReport(spec, tuple(run_check(model, c, now=now) for c in spec.checks))
