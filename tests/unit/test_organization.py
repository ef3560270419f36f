"""Accounts chosen by the organization, offline (issue 21 items 1-3): selector syntax checked by
validate, resolution against an `OrgView` (pure), group policies whose size does not grow with
accounts, and the evaluator's aws:ResourceOrgID / aws:ResourceOrgPaths / aws:ResourceAccount."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iamlayer.access.context import Signing
from iamlayer.access.principals import AccessModel, model_from_spec
from iamlayer.access.queries import can, target_for_arn, who_can_assume
from iamlayer.errors import SpecError
from iamlayer.plan.desired import desired_state, trust_policy
from iamlayer.plan.limits import check_rendered_limits, rendered_limit_problems
from iamlayer.spec.load import load_spec, resolve_organization
from iamlayer.spec.model import Spec
from iamlayer.spec.organization import OrgMember, OrgUnit, OrgView
from iamlayer.spec.policy_grammar import policy_size
from iamlayer.state.model import RoleState

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ORG = "o-a1b2c3d4e5"
ROOT = f"{ORG}/r-ab12/"
SECURITY, MANAGEMENT = "222222222222", "111111111111"


def units(*paths: str) -> tuple[OrgUnit, ...]:
    """OUs with ids derived from their names (`ou-ab12-<name>`), nested as the paths say."""
    out: list[OrgUnit] = []
    for path in paths:
        ids = "".join(f"ou-ab12-{name.lower():0>8}/" for name in path.split("/"))
        out.append(OrgUnit(f"ou-ab12-{path.rsplit('/', 1)[-1].lower():0>8}", path, ROOT + ids))
    return tuple(out)


def org_view(per_ou: int, *, suspended: int = 0) -> OrgView:
    """security and management at the root; `per_ou` accounts in each of Workloads,
    Workloads/Prod, Sandbox and Sandbox/Dev; the last `suspended` of Workloads closed."""
    us = units("Workloads", "Workloads/Prod", "Sandbox", "Sandbox/Dev")
    members = [
        OrgMember(MANAGEMENT, "management", "ACTIVE", "", ROOT),
        OrgMember(SECURITY, "acme-corp-security", "ACTIVE", "", ROOT),
    ]
    n = 0
    for u in us:
        for i in range(per_ou):
            n += 1
            closed = u.path == "Workloads" and i >= per_ou - suspended
            name = f"acme-corp-{u.path.replace('/', '-').lower()}-{i:05d}"
            members.append(
                OrgMember(
                    f"{300000000000 + n:012d}", name, "SUSPENDED" if closed else "ACTIVE", u.path, u.org_path
                )
            )
    return OrgView(ORG, "r-ab12", us, tuple(members))


SPEC = """\
project: acme
project_long: acme-corp
accounts:
  organization: true
  names: {security: "222222222222", management: "111111111111"}
people_account: security
roles:
  DevOps: {accounts: [ou:Workloads, sandbox-dev-00000], exclude: [workloads-00001], mfa_max_age: 3600}
  Auditor: {accounts: all}
  Lead: {accounts: [{ou: Sandbox, recursive: false}]}
groups:
  devops: {assume: [DevOps], self_management: enforce_mfa}
  auditors: {assume: [Auditor], self_management: enforce_mfa}
  leads: {assume: [Lead, DevOps, Auditor], self_management: enforce_mfa}
users:
  jane: {groups: [devops], console: false}
  audrey: {groups: [auditors], console: false}
"""


def write(tmp_path: Path, text: str = SPEC) -> Path:
    path = tmp_path / "iamlayer.yaml"
    path.write_text(text)
    return path


def resolved(tmp_path: Path, view: OrgView, text: str = SPEC) -> Spec:
    return resolve_organization(load_spec(write(tmp_path, text), check_keys=False), view)


# --- the spec, offline and resolved ---------------------------------------------------------------


def test_validate_checks_selectors_offline_and_leaves_the_accounts_to_the_plan(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path), check_keys=False)
    assert spec.unresolved and spec.accounts_from_organization
    assert list(spec.accounts) == ["security", "management"]  # what names: names, with their ids
    assert spec.roles["DevOps"].accounts == ()  # its OU and its named account are not known yet
    assert spec.roles["Auditor"].accounts == ("security", "management")
    check_rendered_limits(spec)  # measured on placeholders of the usual length


@pytest.mark.parametrize(
    ("accounts", "message"),
    [
        ('["ou:"]', "invalid OU selector 'ou:'"),
        ("[ou:Work//Dev]", "invalid OU selector 'ou:Work//Dev'"),
        ("[{ou: Sandbox, deep: true}]", "unknown field 'deep'"),
        ("[{recursive: false}]", "missing required field 'ou'"),
    ],
)
def test_a_malformed_selector_is_an_error_at_its_line(tmp_path: Path, accounts: str, message: str) -> None:
    text = SPEC.replace("[ou:Workloads, sandbox-dev-00000]", accounts)
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, text), check_keys=False)
    [d] = info.value.diagnostics
    assert message in d.message and d.line == 8, d


def test_organization_false_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(
            write(tmp_path, SPEC.replace("organization: true", "organization: false")), check_keys=False
        )
    assert any("organization: must be true" in d.message for d in info.value.diagnostics)


def test_resolution_gives_the_concrete_spec_and_says_what_each_selector_matched(tmp_path: Path) -> None:
    view = org_view(3, suspended=1)
    spec = resolved(tmp_path, view)
    assert not spec.unresolved and spec.organization == view
    # every ACTIVE account, named without the <project_long>- prefix unless names: says otherwise
    assert len(spec.accounts) == 2 + 4 * 3 - 1 and "workloads-00002" not in spec.accounts
    assert spec.accounts["workloads-prod-00000"].alias == "acme-corp-workloads-prod-00000"
    devops = spec.roles["DevOps"]
    assert devops.accounts == (
        "workloads-00000", "workloads-prod-00000", "workloads-prod-00001", "workloads-prod-00002",
        "sandbox-dev-00000",
    )  # fmt: skip
    assert spec.roles["Lead"].accounts == ("sandbox-00000", "sandbox-00001", "sandbox-00002")
    by = {m.selector: m for m in spec.selections}
    assert by["organization: true"].skipped == ("workloads-00002 (300000000003): SUSPENDED",)
    work = by["ou:Workloads"]
    assert (work.where, work.line) == ("roles.DevOps.accounts[0]", 8)
    assert work.accounts == ("workloads-00000", "workloads-00001", *devops.accounts[1:4])
    assert work.skipped == ("workloads-00002 (300000000003): SUSPENDED",)
    assert by["ou:Sandbox (recursive: false)"].accounts == spec.roles["Lead"].accounts
    # the plan's text names a few, the JSON all
    assert (
        by["ou:Workloads"]
        .notice(2)
        .endswith(
            "workloads-00000, workloads-00001 and 3 more; skipped 1: workloads-00002 (300000000003): SUSPENDED"
        )
    )


def test_names_and_excludes_name_accounts_of_the_organization(tmp_path: Path) -> None:
    view = org_view(2)
    text = SPEC.replace("  names:", "  exclude: [sandbox-00000, wrkloads-00000]\n  names:")
    with pytest.raises(SpecError) as info:
        resolved(tmp_path, view, text)
    [d] = info.value.diagnostics
    assert (
        d.message == "no account 'wrkloads-00000' in the organization"
        and d.hint == "did you mean 'workloads-00000'?"
    )
    twice = SPEC.replace('management: "111111111111"', 'management: "111111111111", boss: "111111111111"')
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, twice), check_keys=False)
    assert "account 111111111111 is also named 'management' under names:" in info.value.diagnostics[0].message


def test_an_account_named_in_the_spec_must_exist_once_resolved(tmp_path: Path) -> None:
    text = SPEC.replace("sandbox-dev-00000]", "sandbox-dev-0000]")
    assert load_spec(write(tmp_path, text), check_keys=False).unresolved  # unknown offline: fine
    with pytest.raises(SpecError) as info:
        resolved(tmp_path, org_view(2), text)
    [d] = info.value.diagnostics
    assert d.line == 8 and d.hint == "did you mean 'sandbox-dev-00000'?"


# --- policies whose size does not grow with accounts --------------------------------------------


def group_sizes(spec: Spec) -> dict[str, int]:
    people = desired_state(spec, spec.people_account)
    return {g: sum(policy_size(d) for d in s.inline.values()) for g, s in people.groups.items()}


def test_group_policies_are_the_same_size_at_10_and_10000_accounts(tmp_path: Path) -> None:
    small = resolved(tmp_path, org_view(2))
    large = resolved(tmp_path, org_view(2500))
    assert len(small.accounts) == 10 and len(large.accounts) == 10002
    assert group_sizes(small) == group_sizes(large)
    assert max(group_sizes(large).values()) < 3000
    assert rendered_limit_problems(large) == []
    # the trust policies do not grow either: they trust the people account
    assert trust_policy(large, large.roles["DevOps"]) == trust_policy(small, small.roles["DevOps"])


def test_the_issues_spec_of_10_roles_in_all_accounts_fits_at_100_accounts(tmp_path: Path) -> None:
    """The issue's measurement: 10 roles in `accounts: all`, a group per role, accounts listed one
    by one: refused at 100 accounts before (9,967 characters), well within 5,120 now."""
    lines = ["project: acme", "accounts:"]
    lines += [f'  a{i:03d}: {{id: "{100000000000 + i}"}}' for i in range(100)]
    lines += ["people_account: a000", "roles:"]
    lines += [f"  R{r}: {{accounts: all, mfa_max_age: 3600}}" for r in range(10)]
    lines += ["groups:"] + [f"  g{r}: {{assume: [R{r}], self_management: enforce_mfa}}" for r in range(10)]
    spec = load_spec(write(tmp_path, "\n".join(lines) + "\n"), check_keys=False)
    check_rendered_limits(spec)
    assert max(group_sizes(spec).values()) < 5120


def test_the_policy_states_each_selection_exactly(tmp_path: Path) -> None:
    view = org_view(3, suspended=1)
    spec = resolved(tmp_path, view)
    ids = {n: a.id for n, a in spec.accounts.items()}
    people = desired_state(spec, "security")
    statements = [
        (s["Resource"], s["Condition"]) for s in people.groups["leads"].inline["assume-roles"]["Statement"]
    ]
    work = view.unit("Workloads")
    sandbox = view.unit("Sandbox")
    assert work is not None and sandbox is not None
    assert sorted(statements, key=str) == sorted(
        [
            (
                ["arn:aws:iam::*:role/DevOps"],
                {
                    "ForAnyValue:StringLike": {"aws:ResourceOrgPaths": [work.org_path + "*"]},
                    # excluded, and closed: in the OU, not in the selection
                    "StringNotEquals": {
                        "aws:ResourceAccount": sorted([ids["workloads-00001"], "300000000003"])
                    },
                },
            ),
            # named beside the selector
            (
                ["arn:aws:iam::*:role/DevOps"],
                {"StringEquals": {"aws:ResourceAccount": [ids["sandbox-dev-00000"]]}},
            ),
            (
                ["arn:aws:iam::*:role/Auditor"],
                {
                    "StringEquals": {"aws:ResourceOrgID": [ORG]},
                    "StringNotEquals": {"aws:ResourceAccount": ["300000000003"]},  # the closed account
                },
            ),
            # only the accounts directly in Sandbox
            (
                ["arn:aws:iam::*:role/Lead"],
                {"ForAnyValue:StringLike": {"aws:ResourceOrgPaths": [sandbox.org_path]}},
            ),
        ],
        key=str,
    )


# --- the evaluator: exact answers with the organization's keys -----------------------------------


def with_stray_roles(spec: Spec, model_accounts: list[str]) -> AccessModel:
    """The layer as the spec renders it, plus a role DevOps made by hand, trusting the people
    account, in accounts the spec does not give DevOps."""
    states = {a: desired_state(spec, a) for a in [spec.people_account, *model_accounts]}
    trusting = RoleState("DevOps", trust=trust_policy(spec, spec.roles["DevOps"]))
    for a in model_accounts:
        if "DevOps" not in states[a].roles:
            states[a] = replace(states[a], roles={**states[a].roles, "DevOps": trusting})
    ids = {a: acc.id for a, acc in spec.accounts.items()}
    return AccessModel.from_states(states, spec.people_account, ids, organization=spec.organization)


def test_a_role_of_the_same_name_outside_the_selection_or_the_organization_is_not_reachable(
    tmp_path: Path,
) -> None:
    spec = resolved(tmp_path, org_view(2))
    inside, excluded, other_ou = "workloads-prod-00000", "workloads-00001", "sandbox-00000"
    model = with_stray_roles(spec, [inside, excluded, other_ou])
    jane = model.users["jane"]
    mfa = Signing.with_mfa(10)

    def ask(arn: str) -> tuple[bool, bool]:
        d = can(model, jane, "sts:AssumeRole", target_for_arn(model, arn), mfa, now=NOW)
        return d.allowed, d.certain

    arn = lambda account_id: f"arn:aws:iam::{account_id}:role/DevOps"  # noqa: E731
    assert ask(arn(spec.accounts[inside].id)) == (True, True)
    assert ask(arn(spec.accounts[excluded].id)) == (False, True)  # in the OU, excluded
    assert ask(arn(spec.accounts[other_ou].id)) == (False, True)  # in the organization, another OU
    assert ask(arn("999999999999")) == (False, True)  # outside the organization
    report = who_can_assume(model, model.roles[(other_ou, "DevOps")], now=NOW)
    assert report.as_json()["users"] == [] and "jane" in report.as_json()["cannot"]
    assert (
        who_can_assume(model, model.roles[(inside, "DevOps")], now=NOW).as_json()["users"][0]["name"]
        == "jane"
    )


def test_auditor_in_every_account_of_the_organization_and_no_other(tmp_path: Path) -> None:
    spec = resolved(tmp_path, org_view(2))
    model = model_from_spec(spec)
    audrey = model.users["audrey"]
    for account in spec.accounts.values():
        arn = f"arn:aws:iam::{account.id}:role/Auditor"
        d = can(model, audrey, "sts:AssumeRole", target_for_arn(model, arn), Signing.with_mfa(), now=NOW)
        assert d.allowed and d.certain, account.name
    d = can(
        model,
        audrey,
        "sts:AssumeRole",
        target_for_arn(model, "arn:aws:iam::999999999999:role/Auditor"),
        Signing.with_mfa(),
        now=NOW,
    )
    assert not d.allowed and d.certain
    # Without the organization, the keys are unknown: the answer says it depends on them.
    blind = replace(model, organization=None)
    d = can(
        blind,
        audrey,
        "sts:AssumeRole",
        target_for_arn(blind, f"arn:aws:iam::{SECURITY}:role/Auditor"),
        Signing.with_mfa(),
        now=NOW,
    )
    assert not d.certain and any(k.lower() == "aws:resourceorgid" for k in d.unknown_keys), d.unknown_keys
