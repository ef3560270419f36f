"""Lint: warnings about valid specs, which never make a load fail."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from spec_support import MINIMAL, line_of, load_errors, only, write_spec

from iamlayer.spec.load import load_spec_with_warnings

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def warnings_of(path: Path) -> list[str]:
    _, warnings = load_spec_with_warnings(path, check_keys=False)
    assert all(w.severity == "warning" for w in warnings)
    return [w.key for w in warnings]


def test_full_admin_outside_roles(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        MINIMAL
        + dedent(f"""\
        policies:
          god: {{document: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Action: "*", Resource: "*"}}]}}}}
        roles:
          Admin: {{policies: [{ADMIN}]}}
        groups:
          admins: {{policies: [{ADMIN}], assume: [Admin]}}
          ops:
            inline_policies:
              all: {{Version: "2012-10-17", Statement: {{Effect: Allow, Action: ["*"], Resource: ["*"]}}}}
        """),
    )
    spec, warnings = load_spec_with_warnings(path, check_keys=False)
    assert spec.groups["admins"].policies == (ADMIN,)  # still loads
    keys = [w.key for w in warnings]
    assert keys == ["policies.god.document", "groups.admins.policies[0]", "groups.ops.inline_policies.all"]
    assert warnings[1].line == line_of(path, "admins:")
    assert "assumable role with MFA" in (warnings[1].hint or "")
    # the role with AdministratorAccess is the recommended shape: no warning for it
    assert not [k for k in keys if k.startswith("roles.")]


def test_mfa_max_age_shorter_than_session(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        MINIMAL
        + dedent("""\
        roles:
          Short: {mfa_max_age: 900, max_session_duration: 7200}
          Fine: {mfa_max_age: 43200, max_session_duration: 3600}
          NoMfa: {max_session_duration: 43200}
        """),
    )
    _, warnings = load_spec_with_warnings(path, check_keys=False)
    w = only(warnings, "roles.Short.mfa_max_age", "warning")
    assert w.line == line_of(path, "Short:") and "900s" in w.message and "7200s" in w.message
    assert [x.key for x in warnings] == ["roles.Short.mfa_max_age"]


def test_assumed_role_in_no_account_and_trusting_management(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        dedent("""\
        project: acme
        accounts:
          management: {id: "111111111111"}
          security: {id: "222222222222"}
        people_account: security
        roles:
          Nowhere: {accounts: []}
          Payer: {accounts: [management], trusted: management}
        groups:
          g:
            assume: [Nowhere, Payer]
        """),
    )
    _, warnings = load_spec_with_warnings(path, check_keys=False)
    nowhere = only(warnings, "groups.g.assume[0]", "warning")
    assert "in no account" in nowhere.message and nowhere.line == line_of(path, "assume:")
    payer = only(warnings, "groups.g.assume[1]", "warning")
    assert "trusts account management" in payer.message


def test_plain_bool_on_mfa_present(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        MINIMAL
        + dedent("""\
        groups:
          g:
            inline_policies:
              mfa:
                Version: "2012-10-17"
                Statement:
                  - Effect: Deny
                    NotAction: "iam:*"
                    Resource: "*"
                    Condition:
                      Bool: {"aws:MultiFactorAuthPresent": "false"}
                  - Effect: Allow
                    Action: "s3:*"
                    Resource: "*"
                    Condition:
                      Bool: {"aws:MultiFactorAuthPresent": "true"}
                  - Effect: Deny
                    Action: "ec2:*"
                    Resource: "*"
                    Condition:
                      BoolIfExists: {"aws:MultiFactorAuthPresent": "false"}
        """),
    )
    _, warnings = load_spec_with_warnings(path, check_keys=False)
    base = "groups.g.inline_policies.mfa.Statement"
    deny = only(warnings, f"{base}[0].Condition.Bool.aws:MultiFactorAuthPresent", "warning")
    assert deny.line == line_of(path, 'Bool: {"aws:MultiFactorAuthPresent": "false"}')
    assert "fails open" in deny.message and "BoolIfExists" in (deny.hint or "")
    allow = only(warnings, f"{base}[1].Condition.Bool.aws:MultiFactorAuthPresent", "warning")
    assert allow.line == line_of(path, 'Bool: {"aws:MultiFactorAuthPresent": "true"}')
    assert "fails closed" in allow.message
    assert len(warnings) == 2  # BoolIfExists is the recommended form


def test_too_many_group_policies_warns(tmp_path: Path) -> None:
    arns = ", ".join(f"arn:aws:iam::aws:policy/P{i}" for i in range(11))
    path = write_spec(tmp_path, MINIMAL + f"groups:\n  g: {{policies: [{arns}]}}\n")
    assert warnings_of(path) == ["groups.g.policies"]


def test_warnings_travel_with_errors(tmp_path: Path) -> None:
    path = write_spec(tmp_path, MINIMAL + "users:\n  bob: {console: true}\nroles:\n  R: {mfa_max_age: 60}\n")
    diags = load_errors(path)
    # lint runs on valid specs only: the error stands alone
    assert [d.severity for d in diags] == ["error"]


def test_more_managed_policies_than_the_default_quota_per_role_or_group(tmp_path: Path) -> None:
    """IAM holds 10 managed policies per role and per group by default (raisable to 20)."""
    arns = [f"arn:aws:iam::aws:policy/P{i}" for i in range(11)]
    path = write_spec(
        tmp_path,
        MINIMAL
        + dedent(f"""\
        roles:
          Ten: {{policies: [{", ".join(arns[:10])}]}}
          Eleven: {{policies: [{", ".join(arns)}]}}
        groups:
          ten: {{policies: [{", ".join(arns[:10])}]}}
          eleven: {{policies: [{", ".join(arns)}]}}
        """),
    )
    _, warnings = load_spec_with_warnings(path, check_keys=False)
    quota = {w.key: w for w in warnings if "default quota" in w.message}
    assert sorted(quota) == ["groups.eleven.policies", "roles.Eleven.policies"]
    assert "10 per role" in quota["roles.Eleven.policies"].message
    assert "10 per group" in quota["groups.eleven.policies"].message
    assert "up to 20" in (quota["roles.Eleven.policies"].hint or "")
