"""Loading valid specs: the DESIGN.md contract example as written, defaults, key-file checks."""

from __future__ import annotations

import shutil
from pathlib import Path
from textwrap import dedent

import pytest
from spec_support import (
    FIXTURES,
    MINIMAL,
    line_of,
    load_errors,
    needs_key_loader,
    only,
    write_key,
    write_spec,
)

from iamlayer.errors import SpecError
from iamlayer.spec.load import DEFAULT_SPEC_FILE, load_spec, load_spec_with_warnings
from iamlayer.spec.model import PASSWORD_CLASSES, PasswordPolicy, SelfManagement


@pytest.fixture
def design_spec(tmp_path: Path) -> Path:
    """The DESIGN.md example, with real public keys for its two key files."""
    spec = tmp_path / DEFAULT_SPEC_FILE
    shutil.copy(FIXTURES / "design_example.yaml", spec)
    write_key(tmp_path / "keys" / "jane.doe", "Jane <jane@example.com>")
    write_key(tmp_path / "keys" / "machine.infra", "Infra <infra@example.com>")
    return spec


def test_design_example_loads_as_written(design_spec: Path) -> None:
    spec, warnings = load_spec_with_warnings(design_spec, check_keys=False)
    assert warnings == []
    assert spec.path == design_spec.resolve()
    assert (spec.project, spec.project_long, spec.region) == ("acme", "acme-corp", "us-east-1")
    assert list(spec.accounts) == ["management", "security", "shared", "apps-devstg", "apps-prd"]
    assert spec.accounts["apps-prd"].id == "555555555555"
    assert spec.accounts["shared"].alias == "acme-corp-shared"
    assert spec.people_account == "security" and spec.management_account == "management"
    assert spec.access_role == "OrganizationAccountAccessRole"
    expected_pw = PasswordPolicy(
        minimum_length=30, max_age_days=60, reuse_prevention=24, require=frozenset(PASSWORD_CLASSES)
    )
    assert all(a.password_policy == expected_pw for a in spec.accounts.values())

    billing = spec.policies["billing-read"]
    assert billing.description == "Read billing data"
    assert billing.document == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ce:Get*", "cur:Describe*"], "Resource": "*"}],
    }
    assert type(billing.document) is dict  # plain JSON data, not ruamel objects

    devops = spec.roles["DevOps"]
    assert devops.accounts == ("shared", "apps-devstg", "apps-prd")
    assert devops.trusted_account == "security"
    assert (devops.mfa_max_age, devops.max_session_duration) == (43200, 3600)
    assert devops.policies == ("arn:aws:iam::aws:policy/AdministratorAccess",)
    assert spec.roles["Auditor"].accounts == tuple(spec.accounts)  # `all` expanded
    assert spec.roles["Auditor"].mfa_max_age is None

    assert spec.groups["devops"].self_management is SelfManagement.ENFORCE_MFA
    assert spec.groups["auditors"].self_management is SelfManagement.NONE
    finops = spec.groups["finops"]
    assert finops.policies == ("billing-read", "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess")
    assert spec.policy_arn("billing-read") == "arn:aws:iam::222222222222:policy/billing-read"
    assert finops.inline_policies["reports"]["Statement"][0]["Resource"] == "arn:aws:s3:::acme-reports/*"

    jane, ci = spec.users["jane.doe"], spec.users["machine.ci"]
    assert jane.pgp_key == (design_spec.parent / "keys" / "jane.doe").resolve()
    assert (jane.console, jane.access_key, jane.password_reset_required) == (True, False, True)
    assert (ci.console, ci.access_key, ci.groups) == (False, True, ("auditors",))
    assert spec.regions_in_use == ("us-east-1",)
    assert spec.outputs_dir == design_spec.parent.resolve() / "outputs"


@needs_key_loader
def test_design_example_loads_with_key_checks(design_spec: Path) -> None:
    spec = load_spec(design_spec)  # check_keys=True is the default
    assert set(spec.users) == {"jane.doe", "machine.ci"}


def test_single_account_without_roles_and_defaults(tmp_path: Path) -> None:
    path = write_spec(tmp_path, MINIMAL + "users:\n  bot: {console: false}\n")
    spec = load_spec(path)
    assert spec.project_long == "acme" and spec.region == "us-east-1"
    assert spec.people_account == "security" and spec.management_account is None
    acct = spec.accounts["security"]
    assert acct.alias == "acme-security"
    assert acct.password_policy is None  # absent: leave the account's policy alone
    assert spec.roles == {} and spec.groups == {} and spec.policies == {}
    bot = spec.users["bot"]
    assert (bot.pgp_key, bot.console, bot.access_key) == (None, False, False)
    assert spec.outputs_dir == tmp_path.resolve() / "outputs"


def test_password_policy_defaults_and_account_overrides(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        """\
        project: acme
        accounts:
          security: {id: "222222222222"}
          dev: {id: "333333333333", password_policy: {minimum_length: 20, require: [lower]}}
          legacy: {id: "444444444444", password_policy: false, alias: false}
        people_account: security
        password_policy: {max_age_days: 90}
        """,
    )
    spec = load_spec(path)
    assert spec.accounts["security"].password_policy == PasswordPolicy(max_age_days=90)
    assert spec.accounts["dev"].password_policy == PasswordPolicy(
        minimum_length=20, require=frozenset({"lower"}), max_age_days=90
    )
    assert spec.accounts["legacy"].password_policy is None
    assert spec.accounts["legacy"].alias is None


def test_unquoted_account_id_with_leading_zero_keeps_it(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        "project: acme\naccounts:\n  a: {id: 012345678901}\n  b: {id: 123456789012}\npeople_account: a\n",
    )
    spec = load_spec(path)
    assert spec.accounts["a"].id == "012345678901"
    assert spec.accounts["b"].id == "123456789012"


def test_role_options_and_paths(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "read.json").write_text(
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}}'
    )
    path = write_spec(
        tmp_path,
        """\
        project: acme
        region: eu-west-1
        regions_in_use: [eu-west-1, eu-central-1]
        outputs_dir: ../secrets-out
        accounts:
          management: {id: "111111111111"}
          security: {id: "222222222222", profile: sec-admin}
        people_account: security
        policies:
          read: {document: policies/read.json, path: /team/}
        roles:
          Billing:
            trusted: management
            accounts: [management]
            max_session_duration: 43200
            source_identity: true
            tag_session: true
            permissions_boundary: arn:aws:iam::111111111111:policy/boundary
            tags: {owner: finance, cost-center: 42}
            inline_policies:
              read: policies/read.json
        """,
    )
    spec = load_spec(path)
    assert spec.regions_in_use == ("eu-west-1", "eu-central-1")
    assert spec.outputs_dir == (tmp_path / ".." / "secrets-out").resolve()
    assert spec.accounts["security"].profile == "sec-admin"
    assert spec.policies["read"].document["Statement"]["Action"] == "s3:List*"
    assert spec.policy_arn("read") == "arn:aws:iam::222222222222:policy/team/read"
    role = spec.roles["Billing"]
    assert role.trusted_account == "management" and role.accounts == ("management",)
    assert (role.source_identity, role.tag_session, role.max_session_duration) == (True, True, 43200)
    assert role.tags == {"owner": "finance", "cost-center": "42"}
    assert role.inline_policies["read"]["Version"] == "2012-10-17"


def test_unquoted_version_date_becomes_the_version_string(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        MINIMAL
        + dedent("""\
        policies:
          p:
            document:
              Version: 2012-10-17
              Statement: [{Effect: Allow, Action: "s3:*", Resource: "*"}]
        """),
    )
    assert load_spec(path).policies["p"].document["Version"] == "2012-10-17"


@needs_key_loader
def test_unusable_key_file_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path, MINIMAL + "users:\n  jane: {pgp_key: keys/jane}\n  bob: {pgp_key: keys/bob}\n", keys=["bob"]
    )
    (tmp_path / "keys" / "jane").write_text("this is not a key\n")
    diags = load_errors(path, check_keys=True)
    d = only(diags, "users.jane.pgp_key")
    assert d.line == line_of(path, "jane: {pgp_key")
    assert "keys/jane" in d.message
    assert "gpg --export" in (d.hint or "")
    assert not [x for x in diags if x.key.startswith("users.bob") and x.severity == "error"]
    # bob's key was made by Sequoia: usable, but GnuPG 2.2 to 2.4 cannot read what is sent to it
    [warn] = [x for x in diags if x.key.startswith("users.bob")]
    assert warn.severity == "warning" and "RFC 9580" in warn.message
    # without key checks, key files are not read
    assert load_spec(path, check_keys=False).users["jane"].console is True


def test_missing_spec_file_and_empty_spec(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "nope.yaml")
    assert "not found" in info.value.diagnostics[0].message
    assert "iamlayer init" in (info.value.diagnostics[0].hint or "")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(SpecError, match="empty"):
        load_spec(empty)


def test_empty_entries_take_every_default(tmp_path: Path) -> None:
    path = write_spec(tmp_path, MINIMAL + "roles:\n  Viewer:\ngroups:\n  viewers:\nusers:\n  bot:\n")
    spec = load_spec(path)
    assert spec.roles["Viewer"].accounts == ("security",)
    assert spec.roles["Viewer"].max_session_duration == 3600
    assert spec.groups["viewers"].assume == () and spec.users["bot"].console is False
