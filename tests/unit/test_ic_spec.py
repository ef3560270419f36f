"""The spec's `identity_center:` block: the issue's shape loads; every error at once, file:line,
did-you-mean, and exit code 2 from `iamlayer validate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spec_support import line_of, load_errors, only, write_spec

from iamlayer.cli.common import run_guarded
from iamlayer.cli.main import cli
from iamlayer.spec.ic_model import GROUP, USER, Assignment, duration_seconds, iso_duration
from iamlayer.spec.load import load_spec, load_spec_with_warnings

BASE = """\
project: acme
region: eu-west-1
accounts:
  management:  {id: "111111111111"}
  security:    {id: "222222222222"}
  shared:      {id: "333333333333"}
  apps-devstg: {id: "444444444444"}
  apps-prd:    {id: "555555555555"}
people_account: security
policies:
  billing-read:
    path: /finance/
    document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "ce:Get*", Resource: "*"}]}
"""

# The issue's shape, field for field.
ISSUE_BLOCK = """\
identity_center:
  account: management          # where the instance lives (management or delegated admin)
  region: us-east-1            # the instance's region; default: the spec's region
  users:
    jane.doe: {email: jane@example.com, given_name: Jane, family_name: Doe}
  groups:
    devops: {description: DevOps team, members: [jane.doe]}
  permission_sets:
    DevOps:
      description: Full access for DevOps
      session_duration: PT4H
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]
      customer_managed_policies: [billing-read]   # from `policies:`, created in each target account
      inline_policy: {Version: "2012-10-17", Statement: [{Effect: Deny, Action: "s3:DeleteBucket", Resource: "*"}]}
      boundary: arn:aws:iam::aws:policy/PowerUserAccess
    ReadOnly:
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
  assignments:
    - {group: devops, permission_sets: [DevOps], accounts: [shared, apps-devstg, apps-prd]}
    - {user: jane.doe, permission_sets: [ReadOnly], accounts: all}
"""


def test_the_issue_shape_loads_resolved_and_expanded(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, BASE + ISSUE_BLOCK), check_keys=False)
    ic = spec.identity_center
    assert ic is not None
    assert (ic.account, ic.region, ic.start_url) == ("management", "us-east-1", None)
    jane = ic.users["jane.doe"]
    assert (jane.email, jane.display_name) == ("jane@example.com", "Jane Doe")
    assert ic.groups["devops"].members == ("jane.doe",)
    devops = ic.permission_sets["DevOps"]
    assert devops.session_duration == "PT4H"
    assert devops.customer_managed_policies == ("billing-read",)
    assert (devops.boundary, devops.boundary_managed) == ("arn:aws:iam::aws:policy/PowerUserAccess", True)
    assert ic.permission_sets["ReadOnly"].session_duration == "PT1H"  # AWS's default
    assert not ic.permission_sets["ReadOnly"].boundary_managed  # no field: left alone
    assert ic.assignments[:3] == tuple(
        Assignment(GROUP, "devops", "DevOps", a) for a in ("shared", "apps-devstg", "apps-prd")
    )
    assert ic.assignments[3:] == tuple(Assignment(USER, "jane.doe", "ReadOnly", a) for a in spec.accounts)
    # `accounts: all` and group membership, as a person's profiles need them.
    assert ic.access_of("jane.doe")[0] == ("shared", "DevOps")
    assert len(ic.access_of("jane.doe")) == 3 + 5
    # The customer-managed policy is needed exactly where DevOps is assigned.
    assert ic.policies_in("apps-prd") == ("billing-read",)
    assert ic.policies_in("management") == ()


def test_defaults_the_instance_to_the_management_account_and_the_spec_region(tmp_path: Path) -> None:
    block = "identity_center:\n  users:\n    j: {email: j@example.com, given_name: J, family_name: K}\n"
    ic = load_spec(write_spec(tmp_path, BASE + block), check_keys=False).identity_center
    assert ic is not None and (ic.account, ic.region) == ("management", "eu-west-1")


def test_the_instance_fields_are_carried_or_refused_with_their_rule(tmp_path: Path) -> None:
    users = "  users:\n    j: {email: j@example.com, given_name: J, family_name: K}\n"
    good = (
        "identity_center:\n  region: eu-central-1\n  start_url: https://d-1234567890.awsapps.com/start\n"
        "  instance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef\n  identity_store_id: d-9067a1b2c3\n"
    )
    ic = load_spec(write_spec(tmp_path, BASE + good + users), check_keys=False).identity_center
    assert ic is not None
    assert (ic.region, ic.start_url, ic.instance_arn, ic.identity_store_id) == (
        "eu-central-1",
        "https://d-1234567890.awsapps.com/start",
        "arn:aws:sso:::instance/ssoins-1234567890abcdef",
        "d-9067a1b2c3",
    )
    bad = "identity_center:\n  region: moon-1\n  start_url: x\n  instance_arn: x\n  identity_store_id: x\n"
    errors = load_errors(write_spec(tmp_path, BASE + bad + users))
    assert "AWS access portal URL" in (only(errors, "identity_center.start_url").hint or "")
    assert "ssoins-<16 characters>" in (only(errors, "identity_center.instance_arn").hint or "")
    assert "d- and 10 characters" in (only(errors, "identity_center.identity_store_id").hint or "")
    only(errors, "identity_center.region")
    assert len(errors) == 4


def test_every_error_at_once_with_lines_and_did_you_mean(tmp_path: Path) -> None:
    bad = (
        ISSUE_BLOCK.replace("  account: management", "  acount: management")
        .replace("members: [jane.doe]", "members: [jane.do]")
        .replace("PT4H", "PT13H")
        .replace("customer_managed_policies: [billing-read]", "customer_managed_policies: [biling-read]")
        .replace("{group: devops, permission_sets: [DevOps]", "{group: devop, permission_sets: [DevOp]")
        .replace("accounts: [shared, apps-devstg, apps-prd]", "accounts: [shared, apps-prod]")
    )
    path = write_spec(tmp_path, BASE + bad)
    errors = load_errors(path)
    d = only(errors, "identity_center.acount")
    assert d.line == line_of(path, "acount:") and "did you mean 'account'?" in (d.hint or "")
    d = only(errors, "identity_center.groups.devops.members[0]")
    assert d.line == line_of(path, "jane.do]") and "did you mean 'jane.doe'?" in (d.hint or "")
    d = only(errors, "identity_center.permission_sets.DevOps.session_duration")
    assert "13 hours" in d.message and "between PT1H and PT12H" in (d.hint or "")
    d = only(errors, "identity_center.permission_sets.DevOps.customer_managed_policies[0]")
    assert "did you mean 'billing-read'?" in (d.hint or "")
    assert "did you mean 'devops'?" in (only(errors, "identity_center.assignments[0].group").hint or "")
    assert "did you mean 'DevOps'?" in (
        only(errors, "identity_center.assignments[0].permission_sets[0]").hint or ""
    )
    assert "did you mean 'apps-prd'?" in (
        only(errors, "identity_center.assignments[0].accounts[1]").hint or ""
    )
    assert all(e.line for e in errors)
    assert len(errors) == 7


def test_wrong_shapes_and_values(tmp_path: Path) -> None:
    block = """\
identity_center:
  account: nowhere
  users:
    jane.doe: {email: jane-at-example, given_name: Jane}
    "has space": {email: a@b.co, given_name: A, family_name: B}
  permission_sets:
    Quick: {session_duration: PT30M}
    Odd: {session_duration: 4h}
    Seconds: {session_duration: PT1H30S}
    Mixed: {policies: [billing-read, arn:aws:iam::111111111111:policy/x]}
    Bound: {boundary: nope}
    "bad name!": {}
  assignments:
    - {group: x, user: jane.doe, permission_sets: [Quick], accounts: all}
    - {permission_sets: [Quick], accounts: all}
"""
    errors = load_errors(write_spec(tmp_path, BASE + block))
    msg = {d.key: f"{d.message} | {d.hint}" for d in errors}
    assert "unknown account 'nowhere'" in msg["identity_center.account"]
    assert "missing required field 'family_name'" in msg["identity_center.users.jane.doe.family_name"]
    assert "an email address" in msg["identity_center.users.jane.doe.email"]
    assert "invalid Identity Center user name 'has space'" in msg["identity_center.users.has space"]
    assert "1800 seconds" in msg["identity_center.permission_sets.Quick.session_duration"]
    assert "invalid session_duration '4h'" in msg["identity_center.permission_sets.Odd.session_duration"]
    assert "whole minutes" in msg["identity_center.permission_sets.Seconds.session_duration"]
    assert (
        "list billing-read under customer_managed_policies"
        in msg["identity_center.permission_sets.Mixed.policies[0]"]
    )
    assert "not an AWS-managed policy" in msg["identity_center.permission_sets.Mixed.policies[1]"]
    assert "unknown policy 'nope'" in msg["identity_center.permission_sets.Bound.boundary"]
    assert "invalid permission set name" in msg["identity_center.permission_sets.bad name!"]
    assert "one of group: and user:" in msg["identity_center.assignments[0]"]
    assert "names a group or a user" in msg["identity_center.assignments[1]"]


def test_boundary_forms(tmp_path: Path) -> None:
    block = """\
identity_center:
  permission_sets:
    ByName: {boundary: billing-read}
    Removed: {boundary: none}
    Untouched: {}
"""
    ic = load_spec(write_spec(tmp_path, BASE + block), check_keys=False).identity_center
    assert ic is not None
    sets = ic.permission_sets
    assert (sets["ByName"].boundary, sets["ByName"].boundary_managed) == ("billing-read", True)
    assert (sets["Removed"].boundary, sets["Removed"].boundary_managed) == (None, True)
    assert (sets["Untouched"].boundary, sets["Untouched"].boundary_managed) == (None, False)
    assert ic.policy_names(sets["ByName"]) == ("billing-read",)


def test_validate_exits_2_and_prints_every_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(tmp_path, BASE + ISSUE_BLOCK.replace("PT4H", "P1D").replace("[jane.doe]}", "[jane]}"))
    assert run_guarded(cli, ["validate", "-f", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path.resolve()}:{line_of(path, 'P1D')}: error: identity_center.permission_sets.DevOps" in err
    assert "unknown Identity Center user 'jane'" in err


def test_durations() -> None:
    assert [duration_seconds(t) for t in ("PT4H", "PT1H30M", "PT90M", "PT12H", "P1D", "4h", "PT")] == [
        14400,
        5400,
        5400,
        43200,
        None,
        None,
        None,
    ]
    assert duration_seconds(3600) == 3600  # the emulator's answer for a default duration
    assert [iso_duration(s) for s in (3600, 5400, 43200)] == ["PT1H", "PT1H30M", "PT12H"]


def _sized_document(chars: int) -> str:
    """A policy document (JSON, which is YAML) of exactly `chars` characters as IAM counts them."""
    from iamlayer.spec.policy_grammar import policy_size

    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/"}],
    }
    doc["Statement"][0]["Resource"] += "x" * (chars - policy_size(doc))  # type: ignore[index]
    assert policy_size(doc) == chars
    return json.dumps(doc)


@pytest.mark.parametrize(("chars", "refused"), [(10240, False), (10241, True)])
def test_inline_policy_quota_is_the_provisioned_roles(tmp_path: Path, chars: int, refused: bool) -> None:
    """The inline policy becomes the inline policy of the role provisioned in each account: IAM's
    10,240 characters per role, not the 32,768 sso-admin itself would store."""
    block = f"identity_center:\n  permission_sets:\n    Big: {{inline_policy: {_sized_document(chars)}}}\n"
    path = write_spec(tmp_path, BASE + block)
    if refused:
        d = only(load_errors(path), "identity_center.permission_sets.Big.inline_policy")
        assert "10,241 characters" in d.message and "10,240" in d.message
    else:
        ic = load_spec(path, check_keys=False).identity_center
        assert ic is not None and ic.permission_sets["Big"].inline_policy is not None


def _with_policies(count: int) -> str:
    policies = "".join(
        f'  p{i}: {{document: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Action: "s3:Get*", '
        f'Resource: "*"}}]}}}}\n'
        for i in range(count)
    )
    names = ", ".join(f"p{i}" for i in range(count))
    return (
        BASE
        + policies
        + f"identity_center:\n  permission_sets:\n    Many: {{customer_managed_policies: [{names}]}}\n"
    )


@pytest.mark.parametrize(
    ("count", "warned", "refused"),
    [(10, False, False), (11, True, False), (20, True, False), (21, True, True)],
)
def test_managed_policies_per_permission_set(tmp_path: Path, count: int, warned: bool, refused: bool) -> None:
    """20 managed policies per permission set is Identity Center's limit (an error past it); the
    role it provisions holds 10 by default (IAM's role quota, raisable to 20): a warning past it."""
    path = write_spec(tmp_path, _with_policies(count))
    key = "identity_center.permission_sets.Many"
    if refused:
        assert f"has {count} managed policies" in only(load_errors(path), key).message
        return
    _, warnings = load_spec_with_warnings(path, check_keys=False)
    quota = [w for w in warnings if w.key == key]
    assert bool(quota) == warned
    if warned:
        assert "default quota is 10 per role" in quota[0].message
        assert "up to 20" in (quota[0].hint or "")


EXTERNAL_BLOCK = """\
identity_center:
  identity_source: external
  users:
    jane.doe:
  groups:
    okta-devops: {}
    okta-finops: {external: true}
  permission_sets:
    ReadOnly: {policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}
  assignments:
    - {group: okta-devops, permission_sets: [ReadOnly], accounts: [shared]}
    - {user: jane.doe, permission_sets: [ReadOnly], accounts: [shared]}
"""


def test_an_external_source_declares_names_only(tmp_path: Path) -> None:
    path = write_spec(tmp_path, BASE + EXTERNAL_BLOCK)
    ic = load_spec(path, check_keys=False).identity_center
    assert ic is not None and ic.identity_source == "external"
    assert ic.external(GROUP) == {
        "okta-devops": line_of(path, "okta-devops: {}"),
        "okta-finops": line_of(path, "okta-finops:"),
    }
    assert ic.external(USER) == {"jane.doe": line_of(path, "jane.doe:")}
    assert Assignment(GROUP, "okta-devops", "ReadOnly", "shared") in ic.assignments


def test_external_principals_refuse_what_their_provider_owns(tmp_path: Path) -> None:
    bad = EXTERNAL_BLOCK.replace("okta-finops: {external: true}", "okta-finops: {external: false}").replace(
        "okta-devops: {}", "okta-devops: {members: [jane.doe]}"
    )
    errors = load_errors(write_spec(tmp_path, BASE + bad))
    assert "read-only" in (only(errors, "identity_center.groups.okta-finops.external").hint or "")
    assert "unknown field 'members'" in only(errors, "identity_center.groups.okta-devops.members").message
    # Per principal, beside people iamlayer makes: an external user cannot join iamlayer's group.
    mixed = """\
identity_center:
  users:
    jane.doe: {external: true}
  groups:
    devops: {members: [jane.doe]}
"""
    errors = load_errors(write_spec(tmp_path, BASE + mixed))
    d = only(errors, "identity_center.groups.devops.members[0]")
    assert "external" in d.message and len(errors) == 1
    source = load_errors(
        write_spec(tmp_path, BASE + EXTERNAL_BLOCK.replace("source: external", "source: scim"))
    )
    assert "valid values: identity_center, external" in (
        only(source, "identity_center.identity_source").hint or ""
    )
