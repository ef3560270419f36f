"""Identity Center assignments by OU (issue 24 item 3), offline: an assignment's `accounts:` takes
the roles' selectors (`ou:Workloads`, recursive or not, `exclude:`), resolved against an
`OrgView` by the same machinery as roles; SUSPENDED accounts skipped with a note, the management
account warned about, an OU that does not exist an error at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from iamlayer.errors import SpecError
from iamlayer.plan.ic_diff import management_assignment_warnings
from iamlayer.spec.load import load_spec, load_spec_with_warnings, resolve_organization
from iamlayer.spec.model import Spec
from iamlayer.spec.organization import OrgMember, OrgUnit, OrgView

ORG = "o-a1b2c3d4e5"
ROOT = f"{ORG}/r-ab12/"
WORK = OrgUnit("ou-ab12-aaaaaaaa", "Workloads", ROOT + "ou-ab12-aaaaaaaa/")
PROD = OrgUnit("ou-ab12-bbbbbbbb", "Workloads/Prod", WORK.org_path + "ou-ab12-bbbbbbbb/")
ADMIN = OrgUnit("ou-ab12-cccccccc", "Admin", ROOT + "ou-ab12-cccccccc/")
MANAGEMENT = "111111111111"


def view() -> OrgView:
    """security at the root; the management account moved into Admin (AWS allows it); apps-a,
    apps-b and a SUSPENDED old in Workloads; apps-prd in Workloads/Prod."""
    members = (
        OrgMember(MANAGEMENT, "acme-corp-management", "ACTIVE", "Admin", ADMIN.org_path),
        OrgMember("222222222222", "acme-corp-security", "ACTIVE", "", ROOT),
        OrgMember("300000000001", "acme-corp-apps-a", "ACTIVE", "Workloads", WORK.org_path),
        OrgMember("300000000002", "acme-corp-apps-b", "ACTIVE", "Workloads", WORK.org_path),
        OrgMember("300000000003", "acme-corp-old", "SUSPENDED", "Workloads", WORK.org_path),
        OrgMember("300000000004", "acme-corp-apps-prd", "ACTIVE", "Workloads/Prod", PROD.org_path),
    )
    return OrgView(ORG, "r-ab12", (WORK, PROD, ADMIN), members, management_id=MANAGEMENT)


SPEC = """\
project: acme
project_long: acme-corp
accounts:
  organization: true
  names: {security: "222222222222", management: "111111111111"}
people_account: security
identity_center:
  users:
    jane: {email: jane@example.com, given_name: Jane, family_name: Doe}
  groups:
    devops: {members: [jane]}
  permission_sets:
    DevOps: {policies: [arn:aws:iam::aws:policy/AdministratorAccess]}
    ReadOnly: {policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}
  assignments:
    - {group: devops, permission_sets: [DevOps], accounts: [ou:Workloads], exclude: [apps-b]}
    - {user: jane, permission_sets: [ReadOnly], accounts: [{ou: Workloads, recursive: false}, security]}
    - {group: devops, permission_sets: [ReadOnly], accounts: [ou:Admin]}
"""


def resolved(tmp_path: Path, text: str = SPEC) -> Spec:
    path = tmp_path / "iamlayer.yaml"
    path.write_text(text)
    spec = load_spec(path, check_keys=False)
    assert spec.unresolved  # offline, the OUs' accounts are not known
    return resolve_organization(spec, view())


def test_assignments_by_ou_expand_to_the_ous_active_accounts(tmp_path: Path) -> None:
    spec = resolved(tmp_path)
    ic = spec.identity_center
    assert ic is not None
    got = {(a.principal, a.permission_set, a.account) for a in ic.assignments}
    assert got == {
        ("devops", "DevOps", "apps-a"),  # apps-b excluded, old suspended
        ("devops", "DevOps", "apps-prd"),  # recursive by default
        ("jane", "ReadOnly", "apps-a"),  # recursive: false leaves Workloads/Prod out
        ("jane", "ReadOnly", "apps-b"),
        ("jane", "ReadOnly", "security"),
        ("devops", "ReadOnly", "management"),
    }
    by = {(m.where, m.selector): m for m in spec.selections}
    work = by[("identity_center.assignments[0].accounts[0]", "ou:Workloads")]
    assert work.line == 16
    assert work.accounts == ("apps-a", "apps-b", "apps-prd")  # what the OU holds; exclude: applies after
    assert work.skipped == ("old (300000000003): SUSPENDED",)
    flat = by[("identity_center.assignments[1].accounts[0]", "ou:Workloads (recursive: false)")]
    assert flat.accounts == ("apps-a", "apps-b") and flat.skipped == ("old (300000000003): SUSPENDED",)
    assert "skipped 1: old (300000000003): SUSPENDED" in work.notice()


def test_an_assignment_that_reaches_the_management_account_is_warned_at_its_line(tmp_path: Path) -> None:
    spec = resolved(tmp_path)
    [warning] = management_assignment_warnings(spec)
    assert warning.startswith("iamlayer.yaml:18: identity_center.assignments: group devops gets ")
    assert "permission set ReadOnly in the management account management (111111111111)" in warning
    assert "AWS advises against" in warning and "exclude: [management]" in warning

    # Known from the organization alone: a layer that does not name it `management` is warned too.
    renamed = resolved(
        tmp_path,
        SPEC.replace('management: "111111111111"', 'root-acct: "111111111111"').replace(
            "identity_center:\n", "identity_center:\n  account: root-acct\n"
        ),
    )
    assert renamed.management_account is None
    [warning] = management_assignment_warnings(renamed)
    assert "in the management account root-acct (111111111111)" in warning

    # Excluded, no warning.
    spec = resolved(
        tmp_path, SPEC.replace("accounts: [ou:Admin]", "accounts: [ou:Admin], exclude: [management]")
    )
    assert management_assignment_warnings(spec) == ()


@pytest.mark.parametrize(
    ("written", "hint"), [("ou:Workload", "did you mean 'ou:Workloads'?"), ("ou:Nowhere", "OUs: ")]
)
def test_an_ou_that_does_not_exist_is_an_error_at_its_line(tmp_path: Path, written: str, hint: str) -> None:
    with pytest.raises(SpecError) as info:
        resolved(tmp_path, SPEC.replace("accounts: [ou:Admin]", f"accounts: [{written}]"))
    [d] = info.value.diagnostics
    assert (d.file, d.line, d.key) == (
        str(tmp_path / "iamlayer.yaml"),
        18,
        "identity_center.assignments[2].accounts[0]",
    )
    assert f"no organizational unit {written[3:]!r}" in d.message
    assert d.hint is not None and d.hint.startswith(hint)


def test_validate_warns_about_a_named_management_account_at_its_line(tmp_path: Path) -> None:
    """Offline, where the accounts are named (an OU's are known at plan time, which warns)."""
    text = SPEC.replace(
        'accounts:\n  organization: true\n  names: {security: "222222222222", management: "111111111111"}',
        'accounts:\n  security: {id: "222222222222"}\n  management: {id: "111111111111"}',
    ).replace("accounts: [ou:Admin]", "accounts: [management, security]")
    path = tmp_path / "iamlayer.yaml"
    text = text.replace("[ou:Workloads], exclude: [apps-b]", "[security]")
    path.write_text(text.replace("{ou: Workloads, recursive: false}, ", ""))
    _, warnings = load_spec_with_warnings(path, check_keys=False)
    [w] = [w for w in warnings if w.key == "identity_center.assignments"]
    assert (w.line, w.severity) == (18, "warning")
    assert "group devops gets permission set ReadOnly in the management account management" in w.message
    assert w.hint == "exclude: [management] unless that access is meant"
