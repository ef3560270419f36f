"""`ci:` (issue 20 item 5), without AWS: the trust documents the CI roles get (the exact `sub`,
the audience, no wildcard, no unusable job_workflow_ref), the provider's diff, the audit's
IL-11 on hand-built states, `who-can-assume` offline, and validation errors (file:line, did you
mean, exit 2)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_audit_controls import ACCT, good_input, results
from test_audit_more_controls import with_principals

from iamlayer.access.ask import ask_who_can_assume
from iamlayer.access.principals import model_from_spec
from iamlayer.api import ci_operator_policies, operator_policy
from iamlayer.apply.graph import order
from iamlayer.audit.controls import Severity, Status
from iamlayer.audit.model import Principal
from iamlayer.cli.common import run_guarded
from iamlayer.cli.main import cli
from iamlayer.plan.ci import OPERATOR_POLICY_NAME, READ, WRITE
from iamlayer.plan.desired import desired_state
from iamlayer.plan.diff import diff
from iamlayer.plan.model import Action, Kind
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Spec
from iamlayer.state.model import AccountState, OidcProviderState

HEAD = """project: acme
accounts:
  management: {id: "111111111111"}
  security: {id: "222222222222"}
people_account: security
"""
CI = """ci:
  github: {repository: acme/infrastructure, account: management,
           plan: {pull_requests: true}, apply: {environment: production}}
  gitlab: {project: acme/infrastructure, apply: {branch: main}}
"""
GH = "token.actions.githubusercontent.com"
NOW_ISO = "2026-01-01T00:00:00Z"


def load(tmp_path: Path, text: str) -> Spec:
    path = tmp_path / "iamlayer.yaml"
    path.write_text(text)
    return load_spec(path, check_keys=False)


def statement(spec: Spec, account: str, role: str) -> dict[str, Any]:
    state = desired_state(spec, account, operator=ci_operator_policies(spec))
    trust = state.roles[role].trust
    assert len(trust["Statement"]) == 1
    st: dict[str, Any] = trust["Statement"][0]
    return st


# --- trust -----------------------------------------------------------------------------------------


def test_each_role_trusts_the_exact_sub_and_the_audience(tmp_path: Path) -> None:
    spec = load(tmp_path, HEAD + CI)
    expected = {
        ("management", "iamlayer-ci-github-plan"): (
            GH,
            "sts.amazonaws.com",
            "repo:acme/infrastructure:pull_request",
        ),
        ("management", "iamlayer-ci-github-apply"): (
            GH,
            "sts.amazonaws.com",
            "repo:acme/infrastructure:environment:production",
        ),
        ("security", "iamlayer-ci-gitlab-plan"): (
            "gitlab.com",
            "https://gitlab.com",
            "project_path:acme/infrastructure:ref_type:branch:ref:main",
        ),
        ("security", "iamlayer-ci-gitlab-apply"): (
            "gitlab.com",
            "https://gitlab.com",
            "project_path:acme/infrastructure:ref_type:branch:ref:main",
        ),
    }
    for (account, role), (host, aud, sub) in expected.items():
        st = statement(spec, account, role)
        # (normalized: one value is a list of one, as iamlayer compares documents)
        assert st["Effect"] == "Allow" and st["Action"] == ["sts:AssumeRoleWithWebIdentity"]
        provider = f"arn:aws:iam::{spec.accounts[account].id}:oidc-provider/{host}"
        assert st["Principal"] == {"Federated": [provider]}
        assert st["Condition"] == {"StringEquals": {f"{host}:aud": [aud], f"{host}:sub": [sub]}}
        text = json.dumps(st)
        assert "*" not in text and "?" not in text and "Like" not in text
        # IAM has no condition key for GitHub's job_workflow_ref: none is written
        assert "job_workflow_ref" not in text
    # the provider and the roles are made in the named account only (gitlab: the people account)
    assert set(desired_state(spec, "management").oidc_providers) == {GH}
    assert set(desired_state(spec, "security").oidc_providers) == {"gitlab.com"}


def test_the_roles_carry_the_operator_policies(tmp_path: Path) -> None:
    spec = load(tmp_path, HEAD + CI)
    policies = ci_operator_policies(spec)
    assert policies is not None
    assert policies[READ] == operator_policy(spec, read_only=True) and policies[WRITE] == operator_policy(
        spec
    )
    state = desired_state(spec, "management", operator=policies)
    plan_doc = state.roles["iamlayer-ci-github-plan"].inline[OPERATOR_POLICY_NAME]
    apply_doc = state.roles["iamlayer-ci-github-apply"].inline[OPERATOR_POLICY_NAME]
    sids = {s["Sid"] for s in plan_doc["Statement"]}
    assert "IamlayerRead" in sids and "IamlayerWrite" not in sids
    assert "IamlayerWrite" in {s["Sid"] for s in apply_doc["Statement"]}
    # the member accounts are reached through access_role, in both
    assert "IamlayerReachAccounts" in sids
    assert ci_operator_policies(load(tmp_path, HEAD)) is None


def test_several_selectors_and_a_self_hosted_gitlab(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        HEAD
        + """ci:
  github: {repository: acme/infra, plan: {pull_requests: true, branch: [main, release]},
           apply: {environment: production, branch: main}}
  gitlab: {project: acme/platform/infra, url: "https://gitlab.example.com/", apply: {branch: main}}
""",
    )
    st = statement(spec, "security", "iamlayer-ci-github-plan")
    assert st["Condition"]["StringEquals"][f"{GH}:sub"] == [
        "repo:acme/infra:pull_request",
        "repo:acme/infra:ref:refs/heads/main",
        "repo:acme/infra:ref:refs/heads/release",
    ]
    st = statement(spec, "security", "iamlayer-ci-gitlab-apply")
    assert st["Principal"]["Federated"] == ["arn:aws:iam::222222222222:oidc-provider/gitlab.example.com"]
    assert st["Condition"] == {
        "StringEquals": {
            "gitlab.example.com:aud": ["https://gitlab.example.com"],
            "gitlab.example.com:sub": ["project_path:acme/platform/infra:ref_type:branch:ref:main"],
        }
    }


# --- the provider's diff ---------------------------------------------------------------------------


def test_the_provider_is_created_kept_updated_and_deleted(tmp_path: Path) -> None:
    spec = load(tmp_path, HEAD + CI)
    want = desired_state(spec, "management", operator=ci_operator_policies(spec))
    live = AccountState(account_id="111111111111")
    created = [
        c for c in diff("management", "acme", want, live).changes if c.address.kind is Kind.OIDC_PROVIDER
    ]
    assert [(c.action, c.after) for c in created] == [
        (
            Action.CREATE,
            {
                "url": f"https://{GH}",
                "client_ids": ["sts.amazonaws.com"],
                "tags": {"iamlayer:project": "acme"},
            },
        )
    ]
    # roles wait for the provider their trust names
    arn = f"arn:aws:iam::111111111111:oidc-provider/{GH}"
    have = replace(want, oidc_providers={GH: replace(want.oidc_providers[GH], arn=arn)})
    assert diff("management", "acme", want, have).changes == []
    stale = replace(have.oidc_providers[GH], client_ids=("other",))
    changes = diff("management", "acme", want, replace(have, oidc_providers={GH: stale})).changes
    assert [(c.action, c.before, c.after) for c in changes] == [
        (Action.UPDATE, {"client_ids": ["other"]}, {"client_ids": ["sts.amazonaws.com"], "arn": arn})
    ]
    empty = AccountState(account_id="111111111111")
    gone = diff("management", "acme", empty, have).changes
    roles = ["iamlayer-ci-github-apply", "iamlayer-ci-github-plan"]
    assert [(c.action, c.before) for c in gone if c.address.kind is Kind.OIDC_PROVIDER] == [
        (
            Action.DELETE,
            {"url": f"https://{GH}", "client_ids": ["sts.amazonaws.com"], "arn": arn, "roles": roles},
        )
    ]
    # the provider goes first: if its delete fails, its roles stay and the next plan reads it again
    ordered = [str(c.address) for c in order(gone, {"111111111111": "management"})]
    provider_at = ordered.index(f"management/oidc_provider.{GH}")
    assert all(provider_at < ordered.index(f"management/role.{r}") for r in roles), ordered


def test_a_provider_nobody_owns_is_used_never_changed(tmp_path: Path) -> None:
    spec = load(tmp_path, HEAD + CI)
    want = desired_state(spec, "management", operator=ci_operator_policies(spec))
    arn = f"arn:aws:iam::111111111111:oidc-provider/{GH}"
    theirs = AccountState(
        account_id="111111111111", oidc_providers={GH: OidcProviderState(GH, arn, ("x",), {})}
    )
    result = diff("management", "acme", want, theirs)
    assert not [c for c in result.changes if c.address.kind is Kind.OIDC_PROVIDER]
    assert any("lacks the audience sts.amazonaws.com" in n for n in result.notices), result.notices
    other = AccountState(
        account_id="111111111111",
        oidc_providers={
            GH: OidcProviderState(GH, arn, ("sts.amazonaws.com",), {"iamlayer:project": "other"})
        },
    )
    assert any(
        "belongs to iamlayer project 'other'" in c for c in diff("management", "acme", want, other).collisions
    )


# --- who-can-assume, offline -----------------------------------------------------------------------


def test_who_can_assume_lists_the_web_identity(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    spec = load(tmp_path, HEAD + CI)
    report = ask_who_can_assume(
        model_from_spec(spec), spec, "iamlayer-ci-github-plan", "management", now=datetime.now(UTC)
    )
    assert report.as_json()["web_identities"] == [
        {
            "provider": GH,
            "sub": ["repo:acme/infrastructure:pull_request"],
            "aud": ["sts.amazonaws.com"],
            "exact": True,
            "missing": [],
        }
    ]
    assert not [u for u in report.users if u.can_assume]


# --- audit: IL-11 on hand-built states -------------------------------------------------------------

PROVIDER = f"arn:aws:iam::{ACCT}:oidc-provider/{GH}"


def oidc_role(name: str, condition: dict[str, Any] | None) -> Principal:
    st: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if condition is not None:
        st["Condition"] = condition
    return Principal(
        "role", name, f"arn:aws:iam::{ACCT}:role/{name}", trust={"Version": "2012-10-17", "Statement": [st]}
    )


AUD = {f"{GH}:aud": "sts.amazonaws.com"}
CASES = {
    "no-condition": (None, Status.FAIL, ["sub", "aud"]),
    "aud-only": ({"StringEquals": AUD}, Status.FAIL, ["sub"]),
    "sub-only": ({"StringEquals": {f"{GH}:sub": "repo:a/b:ref:refs/heads/main"}}, Status.FAIL, ["aud"]),
    "if-exists": (
        {"StringEquals": AUD, "StringLikeIfExists": {f"{GH}:sub": "repo:a/b:ref:refs/heads/main"}},
        Status.FAIL,
        ["sub"],
    ),
    "wildcard": ({"StringEquals": AUD, "StringLike": {f"{GH}:sub": "repo:a/*"}}, Status.WARN, []),
    "one-char": (
        {"StringEquals": AUD, "StringLike": {f"{GH}:sub": ["repo:a/b:ref:refs/heads/v?"]}},
        Status.WARN,
        [],
    ),
    "exact": ({"StringEquals": {**AUD, f"{GH}:sub": "repo:a/b:environment:production"}}, Status.PASS, []),
    # conditions are ANDed: an exact operator pins `sub` even beside a wildcard one
    "exact-and-like": (
        {
            "StringEquals": {**AUD, f"{GH}:SUB": "repo:a/b:pull_request"},
            "StringLike": {f"{GH}:sub": "repo:*"},
        },
        Status.PASS,
        [],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_oidc_trust_control(case: str) -> None:
    condition, status, missing = CASES[case]
    inp = with_principals(good_input(), roles=(oidc_role(case, condition),))
    (finding,) = results(inp, "oidc-trust")
    assert finding.status is status and finding.resource == f"role/{case}", finding
    assert finding.evidence is not None and finding.evidence["missing"] == missing
    assert finding.evidence["provider"] == GH
    if status is not Status.PASS:
        assert finding.spec_field == "ci" and finding.fix
        assert finding.severity is (Severity.HIGH if status is Status.FAIL else Severity.MEDIUM)


def test_a_warn_is_reported_apart_and_fails_nothing() -> None:
    from test_audit_controls import NOW

    from iamlayer.audit.controls import run_controls
    from iamlayer.audit.report import AuditReport, render_html, report_json

    condition, _, _ = CASES["wildcard"]
    inp = with_principals(good_input(), roles=(oidc_role("loose", condition),))
    found = [f for f in run_controls([inp], NOW) if f.control == "oidc-trust"]
    report = AuditReport.build([inp], found, "cis-4.0", NOW)
    assert not report.failed and report.counts()["WARN"] == 1
    assert report_json(report)["totals"]["WARN"] == 1
    assert 'class="WARN"' in render_html(report)


def test_the_oidc_trust_control_passes_without_web_identities() -> None:
    saml = Principal(
        "role",
        "Saml",
        f"arn:aws:iam::{ACCT}:role/Saml",
        trust={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": f"arn:aws:iam::{ACCT}:saml-provider/okta"},
                    "Action": "sts:AssumeRoleWithSAML",
                }
            ],
        },
    )
    (finding,) = results(with_principals(good_input(), roles=(saml,)), "oidc-trust")
    assert finding.status is Status.PASS and "no role trusts an OIDC provider" in finding.detail


# --- validation ------------------------------------------------------------------------------------


def validate(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "iamlayer.yaml"
    path.write_text(text)
    code = run_guarded(cli, ["validate", "-f", str(path)])
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())


BAD = {
    "unknown field": (
        "ci:\n  github: {repo: acme/infra, apply: {branch: main}}\n",
        ["iamlayer.yaml:7", "unknown field 'repo'", "did you mean 'repository'?"],
    ),
    "unknown ci system": (
        "ci:\n  gitlub: {project: acme/infra, apply: {branch: main}}\n",
        ["iamlayer.yaml:7", "unknown field 'gitlub'", "did you mean 'gitlab'?"],
    ),
    "unknown selector": (
        "ci:\n  github: {repository: acme/infra, apply: {enviroment: production}}\n",
        ["iamlayer.yaml:7", "unknown field 'enviroment'", "did you mean 'environment'?"],
    ),
    "gitlab has no pull requests": (
        "ci:\n  gitlab: {project: acme/infra, apply: {pull_requests: true}}\n",
        ["unknown field 'pull_requests'", "valid fields: branch"],
    ),
    "wildcard branch": (
        "ci:\n  github: {repository: acme/infra, apply: {branch: 'release/*'}}\n",
        ["iamlayer.yaml:7", "invalid ci.github.apply.branch 'release/*'", "no wildcard"],
    ),
    "wildcard repository": (
        "ci:\n  github: {repository: 'acme/*', apply: {branch: main}}\n",
        ["invalid ci.github.repository 'acme/*'"],
    ),
    "no apply": (
        "ci:\n  github: {repository: acme/infra}\n",
        ["iamlayer.yaml:7", "missing required field 'apply'"],
    ),
    "selects nothing": (
        "ci:\n  github: {repository: acme/infra, apply: {pull_requests: false}}\n",
        ["ci.github.apply selects no job"],
    ),
    "unknown account": (
        "ci:\n  github: {repository: acme/infra, account: managment, apply: {branch: main}}\n",
        ["unknown account 'managment'", "did you mean 'management'?"],
    ),
    "not https": (
        "ci:\n  gitlab: {project: acme/infra, url: 'http://gitlab.example.com', apply: {branch: main}}\n",
        ["invalid ci.gitlab.url"],
    ),
    "a role takes the name": (
        "roles:\n  iamlayer-ci-github-plan: {accounts: [security]}\n"
        "ci:\n  github: {repository: acme/infra, apply: {branch: main}}\n",
        ["makes role iamlayer-ci-github-plan in account security"],
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_validation_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    text, expected = BAD[case]
    code, out = validate(tmp_path, HEAD + text, capsys)
    assert code == 2, out
    for part in expected:
        assert part in out, (part, out)


def test_the_issue_spec_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = validate(tmp_path, HEAD + CI, capsys)
    assert code == 0, out


# --- the CI examples assume these roles ------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ci"


def test_the_examples_ask_for_the_audience_the_roles_trust() -> None:
    import yaml

    from iamlayer.spec.ci_validate import GITLAB_URL

    gitlab = yaml.safe_load((EXAMPLES / "gitlab" / ".gitlab-ci.yml").read_text())
    audiences = [job["id_tokens"]["AWS_TOKEN"]["aud"] for job in gitlab.values() if "id_tokens" in str(job)]
    assert audiences and set(audiences) == {GITLAB_URL}
    for path in (EXAMPLES / "github").glob("*.yml"):
        text = path.read_text()
        # aws-actions/configure-aws-credentials asks for sts.amazonaws.com unless `audience:` says otherwise
        assert "aws-actions/configure-aws-credentials" in text and "audience:" not in text, path
        assert "iamlayer-ci-github-" in text, path


def test_the_reach_statement_stays_small_in_a_large_layer(tmp_path: Path) -> None:
    from iamlayer.api import REACH_LISTED
    from iamlayer.spec.policy_grammar import policy_size
    from iamlayer.state.normalize import normalize

    def reach(n: int) -> list[str]:
        accounts = "".join(f'  a{i}: {{id: "{100000000000 + i}"}}\n' for i in range(n))
        spec = load(tmp_path, f"project: acme\naccounts:\n{accounts}people_account: a0\n")
        (st,) = [s for s in operator_policy(spec)["Statement"] if s["Sid"] == "IamlayerReachAccounts"]
        assert policy_size(normalize(operator_policy(spec))) < 10240  # fits a role's inline policy
        return list(st["Resource"])

    assert reach(REACH_LISTED) == [
        f"arn:aws:iam::{100000000000 + i}:role/OrganizationAccountAccessRole" for i in range(REACH_LISTED)
    ]
    assert reach(500) == ["arn:aws:iam::*:role/OrganizationAccountAccessRole"]


def test_a_role_is_made_after_the_provider_its_trust_names(tmp_path: Path) -> None:
    from iamlayer.kinds import REGISTRY, Deps

    spec = load(tmp_path, HEAD + CI)
    want = desired_state(spec, "management", operator=ci_operator_policies(spec))
    changes = diff("management", "acme", want, AccountState(account_id="111111111111")).changes
    deps = Deps(changes, {"111111111111": "management"})
    (provider,) = [c for c in changes if c.address.kind is Kind.OIDC_PROVIDER]
    made = REGISTRY[Kind.OIDC_PROVIDER].provides(provider, deps)
    assert made == [("oidc_provider", "management", GH)]
    roles = [c for c in changes if c.address.kind is Kind.ROLE]
    assert len(roles) == 2
    for role in roles:
        assert made[0] in REGISTRY[Kind.ROLE].uses(role, deps), role.address
    assert all(provider.stage < r.stage for r in roles)


def test_a_plan_reads_the_providers_only_where_they_can_matter(tmp_path: Path) -> None:
    from iamlayer.plan.ci import reads_oidc_providers
    from iamlayer.state.model import RoleState

    spec = load(tmp_path, HEAD + CI)
    bare = load(tmp_path, HEAD)
    live = AccountState(account_id="222222222222")
    assert reads_oidc_providers(spec, "management", live)  # github's account
    assert reads_oidc_providers(spec, "security", live)  # gitlab's: the people account
    assert not reads_oidc_providers(bare, "security", live)
    # `ci:` gone: an owned role that trusts a provider makes the plan read (and delete) it
    ci_roles = desired_state(spec, "management").roles
    left = AccountState(account_id="111111111111", roles=dict(ci_roles))
    assert reads_oidc_providers(bare, "management", left)
    theirs = {n: RoleState(n, trust=r.trust) for n, r in ci_roles.items()}  # not tagged as acme's
    assert not reads_oidc_providers(bare, "management", AccountState("111111111111", roles=theirs))
