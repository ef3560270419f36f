"""Profile rendering for the DESIGN.md example spec (pure: Spec in, sections out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from iamlayer.errors import CredentialsError
from iamlayer.profiles.render import assumable_roles, render_profiles, role_arn
from iamlayer.spec.model import Account, Group, Role, Spec, User

SERIAL = "arn:aws:iam::222222222222:mfa/jane.doe"


def design_spec() -> Spec:
    """The DESIGN.md example, built directly (what load_spec returns for it)."""
    names = ["management", "security", "shared", "apps-devstg", "apps-prd"]
    accounts = {n: Account(n, str(i + 1) * 12, f"acme-corp-{n}", None) for i, n in enumerate(names)}
    return Spec(
        path=Path("/layer/iamlayer.yaml"),
        project="acme",
        project_long="acme-corp",
        region="us-east-1",
        accounts=accounts,
        people_account="security",
        management_account="management",
        roles={
            "DevOps": Role(
                "DevOps",
                accounts=("shared", "apps-devstg", "apps-prd"),
                trusted_account="security",
                mfa_max_age=43200,
                policies=("arn:aws:iam::aws:policy/AdministratorAccess",),
            ),
            "Auditor": Role("Auditor", accounts=tuple(names), trusted_account="security"),
            "Ops": Role("Ops", accounts=("apps-prd",), trusted_account="security", path="/teams/ops/"),
        },
        groups={
            "devops": Group("devops", assume=("DevOps",)),
            "auditors": Group("auditors", assume=("Auditor",)),
            "ops": Group("ops", assume=("Ops", "DevOps")),
        },
        users={
            "jane.doe": User("jane.doe", groups=("devops",)),
            "machine.ci": User("machine.ci", groups=("auditors",), access_key=True),
            "max.ops": User("max.ops", groups=("ops", "devops")),
        },
    )


def test_jane_gets_devops_in_its_three_accounts_with_mfa_serial() -> None:
    r = render_profiles(
        design_spec(), "jane.doe", access_key_id="AKIAJANE", secret_access_key="s3cr3t", mfa_serial=SERIAL
    )
    assert r.source_profile == "acme-security"
    assert [p.profile for p in r.roles] == [
        "acme-shared-devops",
        "acme-apps-devstg-devops",
        "acme-apps-prd-devops",
    ]
    config = {s.header: dict(s.items) for s in r.config}
    assert list(config) == [
        "profile acme-security",
        "profile acme-shared-devops",
        "profile acme-apps-devstg-devops",
        "profile acme-apps-prd-devops",
    ]
    assert config["profile acme-apps-prd-devops"] == {
        "role_arn": "arn:aws:iam::555555555555:role/DevOps",
        "source_profile": "acme-security",
        "mfa_serial": SERIAL,
        "role_session_name": "jane.doe",
        "region": "us-east-1",
        "output": "json",
    }
    assert config["profile acme-security"] == {"mfa_serial": SERIAL, "region": "us-east-1", "output": "json"}
    assert [(s.header, dict(s.items)) for s in r.credentials] == [
        ("acme-security", {"aws_access_key_id": "AKIAJANE", "aws_secret_access_key": "s3cr3t"})
    ]
    assert r.warnings == ()


def test_roles_without_mfa_get_no_mfa_serial() -> None:
    r = render_profiles(
        design_spec(), "machine.ci", access_key_id="AKIA", secret_access_key="x", mfa_serial=SERIAL
    )
    assert [p.profile for p in r.roles] == [
        "acme-management-auditor",
        "acme-security-auditor",
        "acme-shared-auditor",
        "acme-apps-devstg-auditor",
        "acme-apps-prd-auditor",
    ]
    for section in r.config[1:]:
        assert "mfa_serial" not in dict(section.items)


def test_mfa_role_without_device_warns_and_omits_serial() -> None:
    r = render_profiles(
        design_spec(), "jane.doe", access_key_id="AKIA", secret_access_key="x", mfa_serial=None
    )
    assert all("mfa_serial" not in dict(s.items) for s in r.config)
    assert len(r.warnings) == 3 and "iamlayer mfa enable" in r.warnings[0]


def test_roles_from_several_groups_are_deduplicated_and_keep_their_path() -> None:
    roles = assumable_roles(design_spec(), "max.ops")
    assert [(p.profile, p.role_arn) for p in roles] == [
        ("acme-shared-devops", "arn:aws:iam::333333333333:role/DevOps"),
        ("acme-apps-devstg-devops", "arn:aws:iam::444444444444:role/DevOps"),
        ("acme-apps-prd-devops", "arn:aws:iam::555555555555:role/DevOps"),
        ("acme-apps-prd-ops", "arn:aws:iam::555555555555:role/teams/ops/Ops"),
    ]
    assert role_arn("1", "R", "/a/") == "arn:aws:iam::1:role/a/R"


def test_unknown_user_says_did_you_mean() -> None:
    with pytest.raises(CredentialsError, match=r"did you mean 'jane\.doe'"):
        assumable_roles(design_spec(), "jane.do")


def test_secret_never_in_repr() -> None:
    r = render_profiles(
        design_spec(), "jane.doe", access_key_id="AKIA", secret_access_key="s3cr3t", mfa_serial=None
    )
    assert "s3cr3t" not in repr(r)


def test_imported_roles_split_by_account_and_verbatim_trust_get_their_profiles() -> None:
    """A role of one IAM name defined differently per account (`name:`) is reached by its spec key;
    a verbatim trust policy that asks for MFA gets mfa_serial like mfa_max_age does."""
    spec = design_spec()
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "Bool": {"aws:MultiFactorAuthPresent": "true"},
                    "StringEquals": {"aws:PrincipalTag/x": "y"},
                },
            }
        ],
    }
    roles = {
        "Ops": Role("Ops", accounts=("shared",), trusted_account="security"),
        "Ops.apps-prd": Role("Ops", accounts=("apps-prd",), trusted_account="security", trust_policy=trust),
    }
    spec = Spec(
        **{
            **spec.__dict__,
            "roles": roles,
            "groups": {"ops": Group("ops", assume=("Ops", "Ops.apps-prd"))},
            "users": {"max.ops": User("max.ops", groups=("ops",))},
        }
    )
    assert [(p.profile, p.role_arn, p.mfa_required) for p in assumable_roles(spec, "max.ops")] == [
        ("acme-shared-ops", "arn:aws:iam::333333333333:role/Ops", False),
        ("acme-apps-prd-ops", "arn:aws:iam::555555555555:role/Ops", True),
    ]


def test_the_key_to_configure_without_asking(tmp_path: Path) -> None:
    """`credentials configure`'s key: the CSV, else the environment, else the one configured before."""
    from iamlayer.profiles.configure import known_access_key
    from iamlayer.profiles.session import AwsFiles

    spec = design_spec()
    files = AwsFiles.for_project(spec.project, tmp_path)
    assert files.config == tmp_path / "config" and files.credentials == tmp_path / "credentials"
    assert known_access_key(spec, files, None, {}) is None
    env = {"AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "s"}
    assert known_access_key(spec, files, None, env).access_key_id == "AKIAENV"  # type: ignore[union-attr]
    csv = tmp_path / "accessKeys.csv"
    csv.write_text('\ufeff"Access key ID","Secret access key"\r\nAKIACSV,secret\r\n')
    assert known_access_key(spec, files, csv, env).access_key_id == "AKIACSV"  # type: ignore[union-attr]
