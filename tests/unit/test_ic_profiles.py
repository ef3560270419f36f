"""Rendering a person's Identity Center profiles from the spec: what they reach, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from spec_support import write_spec

from iamlayer.errors import CredentialsError, SpecError
from iamlayer.profiles.sso import render_sso_profiles
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Spec

SPEC = """\
project: acme
accounts:
  management: {id: "111111111111"}
  shared:     {id: "333333333333"}
people_account: management
roles:
  devops: {accounts: [shared]}
identity_center:
  users:
    jane.doe: {email: jane@example.com, given_name: Jane, family_name: Doe}
    solo: {email: solo@example.com, given_name: S, family_name: O}
  groups:
    ops: {members: [jane.doe]}
  permission_sets:
    Admin: {}
    devops: {}
  assignments:
    - {group: ops, permission_sets: [Admin], accounts: all}
    - {user: jane.doe, permission_sets: [Admin], accounts: [shared]}
"""


def spec_of(tmp_path: Path, text: str = SPEC) -> Spec:
    return load_spec(write_spec(tmp_path, text), check_keys=False)


def test_one_profile_per_account_and_permission_set_reached_once(tmp_path: Path) -> None:
    r = render_sso_profiles(spec_of(tmp_path), "jane.doe", start_url="https://d-1.awsapps.com/start")
    # Through the group (every account) and directly (shared): one profile each.
    assert [p.profile for p in r.profiles] == ["acme-management-Admin", "acme-shared-Admin"]
    assert r.config[0].header == "sso-session acme"
    assert dict(r.config[0].items)["sso_region"] == "us-east-1"
    assert dict(r.config[2].items) == {
        "sso_session": "acme",
        "sso_account_id": "333333333333",
        "sso_role_name": "Admin",
        "region": "us-east-1",
        "output": "json",
    }
    assert render_sso_profiles(spec_of(tmp_path), "solo", start_url="https://x.io").profiles == ()


def test_refusals_say_what_to_do(tmp_path: Path) -> None:
    spec = spec_of(tmp_path)
    with pytest.raises(CredentialsError, match=r"did you mean 'jane\.doe'"):
        render_sso_profiles(spec, "jane.do", start_url="https://x.io")
    with pytest.raises(CredentialsError, match=r"set identity_center\.start_url"):
        render_sso_profiles(spec, "jane.doe")
    (tmp_path / "b").mkdir()
    clash = spec_of(
        tmp_path / "b",
        SPEC.replace(
            "permission_sets: [Admin], accounts: [shared]", "permission_sets: [devops], accounts: [shared]"
        ),
    )
    with pytest.raises(CredentialsError, match="acme-shared-sso-devops would be both an IAM profile"):
        # A role named like the marked profile: even the sso- mark cannot keep them apart.
        render_sso_profiles(
            load_spec(
                write_spec(
                    tmp_path / "b",
                    clash.path.read_text().replace(
                        "  devops: {accounts: [shared]}",
                        "  devops: {accounts: [shared]}\n  sso-devops: {accounts: [shared]}",
                    ),
                ),
                check_keys=False,
            ),
            "jane.doe",
            start_url="https://x.io",
        )
    (tmp_path / "c").mkdir()
    with pytest.raises(CredentialsError, match="has no identity_center"):
        render_sso_profiles(spec_of(tmp_path / "c", SPEC.split("identity_center:")[0]), "jane.doe")


def test_a_permission_set_named_like_a_role_is_marked_sso_in_every_account(tmp_path: Path) -> None:
    """Issue 18 P3: the IAM profile acme-shared-devops and the Identity Center one
    acme-shared-DevOps differed only in case. The IAM names stay (a contract); the permission set
    named like the role gets the sso- mark, in every account; others keep their names."""
    text = SPEC.replace("    devops: {}", "    DevOps: {}").replace(
        "    - {user: jane.doe, permission_sets: [Admin], accounts: [shared]}",
        "    - {user: jane.doe, permission_sets: [DevOps], accounts: all}",
    )
    r = render_sso_profiles(spec_of(tmp_path, text), "jane.doe", start_url="https://x.io")
    assert sorted(p.profile for p in r.profiles) == [
        "acme-management-Admin",
        "acme-management-sso-DevOps",
        "acme-shared-Admin",
        "acme-shared-sso-DevOps",
    ]
    assert {dict(s.items).get("sso_role_name") for s in r.config[1:]} == {"Admin", "DevOps"}
    iam = "acme-shared-devops"
    assert all(p.profile.lower() != iam for p in r.profiles)


def test_the_default_portal_url_is_derived_from_the_identity_store_id(tmp_path: Path) -> None:
    """Without start_url, the AWS access portal's default URL, https://<identity store id>.awsapps.com/start,
    comes from identity_center.identity_store_id (which `iamlayer import aws` writes, and `iamlayer
    plan` names); a start_url given (a customised portal) still wins."""
    text = SPEC.replace("identity_center:\n", "identity_center:\n  identity_store_id: d-9067a1b2c3\n")
    spec = spec_of(tmp_path, text)
    assert spec.identity_center is not None
    assert spec.identity_center.portal_url == "https://d-9067a1b2c3.awsapps.com/start"
    r = render_sso_profiles(spec, "jane.doe")
    assert r.start_url == "https://d-9067a1b2c3.awsapps.com/start"
    assert dict(r.config[0].items)["sso_start_url"] == "https://d-9067a1b2c3.awsapps.com/start"
    assert render_sso_profiles(spec, "jane.doe", start_url="https://acme.awsapps.com/start").start_url == (
        "https://acme.awsapps.com/start"
    )
    (tmp_path / "c").mkdir()
    (tmp_path / "bad").mkdir()
    custom = spec_of(
        tmp_path / "c",
        text.replace("identity_center:\n", "identity_center:\n  start_url: https://acme.awsapps.com/start\n"),
    )
    assert custom.identity_center is not None
    assert custom.identity_center.portal_url == "https://acme.awsapps.com/start"
    with pytest.raises(SpecError, match="identity_store_id"):
        spec_of(tmp_path / "bad", text.replace("d-9067a1b2c3", "9067a1b2c3"))
