"""Grants that expire by themselves (issue 23, item 3), offline: the spec's `grants:` block, the
policy it renders, the diff once it expired, the evaluator before and after `until` (the
`access` commands as a person runs them), bad input, and the audit's listing (IL-10)."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from spec_support import FIXTURES
from test_audit_controls import good_input, results

from iamlayer.audit.controls import Status
from iamlayer.audit.model import AuthorizationDetails, Principal
from iamlayer.cli.access_cmds import EXIT_DENY
from iamlayer.cli.common import run_guarded
from iamlayer.cli.main import cli
from iamlayer.plan.desired import desired_state
from iamlayer.plan.diff import diff
from iamlayer.plan.model import Action, Kind
from iamlayer.spec.load import load_spec, load_spec_with_warnings
from iamlayer.state.model import GRANTS_POLICY_NAME
from iamlayer.state.normalize import normalize

UNTIL = "2099-12-11T18:00:00Z"
END = datetime(2099, 12, 11, 18, tzinfo=UTC)
GRANT = f"  - {{who: machine.ci, assume: DevOps, accounts: [apps-prd], until: {UNTIL}, reason: INC-4521}}\n"
DEVOPS_PRD = "arn:aws:iam::555555555555:role/DevOps"
EXPECTED = normalize(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GrantINC4521",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": [DEVOPS_PRD],
                "Condition": {"DateLessThan": {"aws:CurrentTime": UNTIL}},
            }
        ],
    }
)


@pytest.fixture
def layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The design example with one grant: machine.ci (an auditor) gets DevOps in apps-prd."""
    shutil.copy(FIXTURES / "design_example.yaml", tmp_path / "iamlayer.yaml")
    (tmp_path / "keys").mkdir()
    for name in ("jane.doe", "machine.infra"):
        (tmp_path / "keys" / name).write_text("")  # neither `access` nor these checks read keys
    with (tmp_path / "iamlayer.yaml").open("a") as f:
        f.write("grants:\n" + GRANT)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # offline: nothing could reach AWS
    for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(k, raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = run_guarded(cli, list(args))
    out, err = capsys.readouterr()
    return code, " ".join((out + err).split())


# --- rendering and the plan ------------------------------------------------------------------------


def test_a_grant_renders_one_inline_policy_that_aws_ends_by_itself(layer: Path) -> None:
    spec = load_spec(layer / "iamlayer.yaml", check_keys=False)
    [grant] = spec.grants
    assert (grant.who, grant.assume, grant.accounts, grant.until, grant.reason) == (
        "machine.ci",
        "DevOps",
        ("apps-prd",),
        END,
        "INC-4521",
    )
    people = desired_state(spec, "security", now=END - timedelta(seconds=1))
    assert people.users["machine.ci"].inline == {GRANTS_POLICY_NAME: EXPECTED}
    assert people.users["jane.doe"].inline == {}  # no grant, no policy


def test_once_expired_a_grant_renders_nothing_and_the_plan_deletes_it(layer: Path) -> None:
    spec = load_spec(layer / "iamlayer.yaml", check_keys=False)
    before = desired_state(spec, "security", now=END - timedelta(seconds=1))
    # What AWS holds: the grant as applied, plus an inline policy of someone else's, left alone.
    live = desired_state(spec, "security", now=END - timedelta(seconds=1))
    live.users["machine.ci"].inline["theirs"] = normalize({"Statement": []})
    assert not [c for c in diff("security", spec.project, before, live).changes if c.address.sub == "theirs"]
    after = desired_state(spec, "security", now=END)  # DateLessThan: at `until` it has ended
    assert after.users["machine.ci"].inline == {}
    changes = [
        c
        for c in diff("security", spec.project, after, live).changes
        if c.address.kind is Kind.USER_INLINE_POLICY
    ]
    assert [(c.action, c.address.name, c.address.sub) for c in changes] == [
        (Action.DELETE, "machine.ci", GRANTS_POLICY_NAME)
    ]


# --- the evaluator: before and after `until` -------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        ("2099-12-11T17:59:59Z", True),
        ("2099-12-11T19:59:59+02:00", True),  # the same instant, in another zone
        (UNTIL, False),  # DateLessThan: not at `until` itself
        ("2099-12-12T00:00:00Z", False),
    ],
)
def test_access_can_at_a_time_allows_before_until_and_denies_after(
    layer: Path, capsys: pytest.CaptureFixture[str], at: str, allowed: bool
) -> None:
    code, out = run(
        capsys, "access", "can", "machine.ci", "sts:AssumeRole", "role/DevOps@apps-prd", "--mfa", "--at", at
    )
    if allowed:
        assert code == 0, out
        assert "ALLOW: machine.ci may sts:AssumeRole on role DevOps in apps-prd" in out
        assert f"allowed by user machine.ci / inline {GRANTS_POLICY_NAME}, statement 0 (GrantINC4521)" in out
    else:
        assert code == EXIT_DENY, out
        assert "DENY: machine.ci may not sts:AssumeRole" in out
        assert "DateLessThan" in out  # the near miss names the condition that failed


def test_a_grant_gives_only_what_it_names(layer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = ("--at", "2099-01-01T00:00:00Z")
    # the role's trust policy still asks for MFA
    code, _ = run(
        capsys, "access", "can", "machine.ci", "sts:AssumeRole", "role/DevOps@apps-prd", "--no-mfa", *before
    )
    assert code == EXIT_DENY
    # not in the role's other accounts
    code, _ = run(
        capsys, "access", "can", "machine.ci", "sts:AssumeRole", "role/DevOps@shared", "--mfa", *before
    )
    assert code == EXIT_DENY
    code, out = run(
        capsys, "access", "can", "machine.ci", "sts:AssumeRole", "role/DevOps@apps-prd", "--at", "friday"
    )
    assert code == 2 and "ISO 8601" in out


def test_who_can_assume_shows_each_grant_with_its_end(
    layer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "access", "who-can-assume", "DevOps", "--account", "apps-prd")
    assert code == 0, out
    assert re.search(
        rf"user machine\.ci \(groups: auditors\): MFA, MFA at most \d+ s old; grant until {UNTIL} \(INC-4521\)",
        out,
    ), out
    code = run_guarded(cli, ["access", "who-can-assume", "DevOps", "--account", "apps-prd", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["grants"] == [
        {
            "who": "machine.ci",
            "role": "DevOps",
            "accounts": ["apps-prd"],
            "until": UNTIL,
            "reason": "INC-4521",
        }
    ]
    code, out = run(capsys, "access", "who-can-assume", "DevOps", "--account", "shared")
    # the grant is for apps-prd only
    assert "user machine.ci (groups: auditors):" not in out and "grant until" not in out, out


# --- bad input: exit 2 with file:line, nothing written ---------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (f"until: {UNTIL}", "until: 2099-12-11", "'2099-12-11' is not an ISO 8601 time with a zone"),
        (f"until: {UNTIL}", "until: 2099-12-11T18:00:00", "is not an ISO 8601 time with a zone"),
        (f"until: {UNTIL}", 'until: "next friday"', "'next friday' is not an ISO 8601 time with a zone"),
        ("assume: DevOps", "assume: DevOp", "unknown role 'DevOp' (did you mean 'DevOps'?)"),
        ("who: machine.ci", "who: machine.cj", "unknown user 'machine.cj' (did you mean 'machine.ci'?)"),
        (
            "accounts: [apps-prd]",
            "accounts: [apps-prod]",
            "unknown account 'apps-prod' (did you mean 'apps-prd'?)",
        ),
        ("accounts: [apps-prd]", "accounts: [management]", "role DevOps is not in account 'management'"),
        (", reason: INC-4521", ", reason: INC-4521, until_when: x", "unknown field 'until_when'"),
    ],
)
def test_a_bad_grant_is_refused_at_its_line_and_nothing_is_written(
    layer: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, says: str
) -> None:
    spec = layer / "iamlayer.yaml"
    text = spec.read_text()
    spec.write_text(text.replace(old, new))
    line = text.splitlines().index(GRANT.rstrip("\n")) + 1
    before = sorted(p.relative_to(layer) for p in layer.rglob("*"))
    code, out = run(capsys, "validate")
    assert code == 2, out
    assert f"iamlayer.yaml:{line}: error: grants[0]" in out and says in out, out
    code, out = run(capsys, "plan")
    assert code == 2 and says in out, out
    assert sorted(p.relative_to(layer) for p in layer.rglob("*")) == before


def test_an_expired_grant_is_a_warning_not_an_error(layer: Path) -> None:
    spec_file = layer / "iamlayer.yaml"
    spec_file.write_text(spec_file.read_text().replace(UNTIL, "2020-01-01T00:00:00Z"))
    line = (
        spec_file.read_text().splitlines().index(GRANT.rstrip("\n").replace(UNTIL, "2020-01-01T00:00:00Z"))
        + 1
    )
    # valid (load_spec raises on any error); `validate` on the emulator shows it too (integration)
    spec, warnings = load_spec_with_warnings(spec_file, check_keys=False)
    assert (
        f"iamlayer.yaml:{line}: warning: grants[0]: the grant of DevOps to machine.ci ended at "
        "2020-01-01T00:00:00Z; the plan removes it"
    ) in "\n".join(str(w) for w in warnings)
    assert len(spec.grants) == 1
    assert desired_state(spec, "security").users["machine.ci"].inline == {}


# --- the audit: every grant in AWS, as INFO ------------------------------------------------------


def test_the_audit_lists_each_grant_with_its_end() -> None:
    now = datetime(2099, 12, 1, tzinfo=UTC)
    ended = {
        **EXPECTED["Statement"][0],
        "Sid": "GrantOld",
        "Condition": {"DateLessThan": {"aws:CurrentTime": "2099-11-30T00:00:00Z"}},
    }
    doc = {**EXPECTED, "Statement": [*EXPECTED["Statement"], ended]}
    user = Principal(
        "user",
        "machine.ci",
        "arn:aws:iam::222222222222:user/machine.ci",
        inline={GRANTS_POLICY_NAME: doc, "other": {}},
    )
    auth = good_input().authorization
    assert isinstance(auth, AuthorizationDetails)
    inp = replace(good_input(), authorization=replace(auth, users=(*auth.users, user)))
    found = results(inp, "temporary-grants", now)
    assert [(f.control_id, f.status, f.resource) for f in found] == [
        ("IL-10", Status.INFO, "user/machine.ci"),
        ("IL-10", Status.INFO, "user/machine.ci"),
    ]
    active, old = found
    assert (
        active.detail
        == f"active grant: machine.ci may assume DevOps in 555555555555 until {UNTIL} (reason INC4521)"
    )
    assert active.evidence == {
        "who": "machine.ci",
        "roles": ["DevOps"],
        "accounts": ["555555555555"],
        "until": UNTIL,
        "reason": "INC4521",
        "active": True,
    }
    assert old.detail.startswith("ended grant: ") and "the next `iamlayer apply` removes it" in old.detail
    # without grants: nothing in scope
    assert [f.status for f in results(good_input(), "temporary-grants", now)] == [Status.PASS]
