"""What a new user tripped on in their first minutes (issue 13's findings), the parts that need no
emulator: spec messages, the plan's last line, the people's help texts, unreadable answers.

Each test fails without its fix; the finding it holds is named in its docstring.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spec_support import MINIMAL, line_of, load_errors, only, write_spec

from iamlayer.errors import Diagnostic
from iamlayer.plan.model import AccountPlan, Action, Address, Change, Kind, Plan
from iamlayer.plan.render import render_plan
from iamlayer.spec.policy_grammar import did_you_mean
from iamlayer.spec.validate import ROLE_FIELDS


def iamlayer(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iamlayer", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(cwd)},
    )


# --- finding 5: the spec option is -f/--file -------------------------------------------------------


def test_validate_outside_a_layer_names_the_option_that_exists(tmp_path: Path) -> None:
    """Finding 5: outside a layer folder, `validate` said "pass --spec FILE"; the option is -f/--file."""
    r = iamlayer("validate", cwd=tmp_path)
    assert r.returncode == 2
    assert "--spec" not in r.stderr
    assert "-f/--file FILE" in r.stderr and "iamlayer init DIR" in r.stderr
    assert str(tmp_path / "iamlayer.yaml") in r.stderr  # where it looked


# --- finding 8: spec messages ----------------------------------------------------------------------


def test_a_diagnostic_without_a_key_path_has_no_empty_field() -> None:
    """Finding 8: a YAML syntax error printed `error: : YAML syntax error` (an empty key path)."""
    d = Diagnostic("iamlayer.yaml", 3, "", "YAML syntax error: found a tab", "check indentation")
    assert str(d) == "iamlayer.yaml:3: error: YAML syntax error: found a tab (check indentation)"
    assert str(Diagnostic("f.yaml", 2, "users.x", "bad")) == "f.yaml:2: error: users.x: bad"


def test_a_yaml_syntax_error_is_located_and_has_no_empty_key(tmp_path: Path) -> None:
    """Finding 8, as printed by the CLI: file:line, no `: :`."""
    path = write_spec(tmp_path, MINIMAL + "users:\n  jane.doe: {groups: [devops}\n")
    r = iamlayer("validate", "-f", str(path), cwd=tmp_path)
    assert r.returncode == 2
    assert f"{path}:5: error: YAML syntax error" in r.stderr, r.stderr
    assert ": :" not in r.stderr


def test_a_field_dedented_to_the_top_level_says_check_the_indentation(tmp_path: Path) -> None:
    """Finding 8: a user's field indented too little read as an unknown top-level field (with a
    did-you-mean of `access_role`), instead of "check the indentation here"."""
    path = write_spec(
        tmp_path,
        MINIMAL + "users:\n  jane.doe:\n    console: false\naccess_key: true\n",
    )
    d = only(load_errors(path), "access_key")
    assert d.line == line_of(path, "access_key: true")
    assert "is not a field of the spec" in d.message
    assert d.hint is not None and "check the indentation here" in d.hint and "a user" in d.hint
    assert "access_role" not in d.hint


def test_a_field_dedented_into_a_section_is_not_taken_for_an_entry(tmp_path: Path) -> None:
    """Finding 8: `groups: [devops]` one level too far left under `users:` read as a user named
    "groups" whose settings are invalid."""
    path = write_spec(
        tmp_path,
        MINIMAL + "groups:\n  devops: {}\nusers:\n  jane.doe:\n    console: false\n  groups: [devops]\n",
    )
    d = only(load_errors(path), "users.groups")
    assert d.line == line_of(path, "  groups: [devops]")
    assert d.hint is not None and "check the indentation here" in d.hint
    assert "must be a mapping" not in d.message


def test_a_section_given_a_field_of_an_entry_says_check_the_indentation(tmp_path: Path) -> None:
    """Finding 8: a role's `policies:` list dedented to the top read only as "policies must be a
    mapping"; the hint now says it is a field of a role or group."""
    path = write_spec(
        tmp_path,
        MINIMAL
        + "roles:\n  DevOps:\n    accounts: all\npolicies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n",
    )
    d = only(load_errors(path), "policies")
    assert d.hint is not None and "check the indentation here" in d.hint and "a role" in d.hint


def test_did_you_mean_prefers_the_field_a_word_was_cut_from() -> None:
    """Finding 8: the typo `max_session` was answered "did you mean tag_session"."""
    assert did_you_mean("max_session", ROLE_FIELDS) == "max_session_duration"
    assert did_you_mean("mfa_max", ROLE_FIELDS) == "mfa_max_age"
    assert did_you_mean("polices", ROLE_FIELDS) == "policies"  # plain typos as before
    assert did_you_mean("acounts", ROLE_FIELDS) == "accounts"
    assert did_you_mean("zz", ROLE_FIELDS) is None


def test_square_brackets_in_a_hint_are_printed(tmp_path: Path) -> None:
    """Finding 8: rich read `[devops]` in the hint "write it as [devops]" as markup and dropped it."""
    path = write_spec(
        tmp_path, MINIMAL + "groups:\n  devops: {}\nusers:\n  jane.doe: {groups: devops, console: false}\n"
    )
    r = iamlayer("validate", "-f", str(path), cwd=tmp_path)
    assert r.returncode == 2
    assert "write it as [devops]" in r.stderr, r.stderr


# --- finding 6: a plan with an unreadable account does not say "No changes" ------------------------


def _plan(*accounts: AccountPlan) -> Plan:
    return Plan("acme", "/x/iamlayer.yaml", "d", accounts, "2026-11-30T00:00:00+00:00")


def test_a_plan_with_an_unplanned_account_never_says_the_accounts_match() -> None:
    """Finding 6: "1 account(s) could not be planned" was followed by "No changes. The accounts
    match the spec."."""
    ok = AccountPlan("security", "222222222222", "arn", "caller", "f")
    broken = AccountPlan("apps-prd", "555555555555", "", "", "", error="AccessDenied")
    text = render_plan(_plan(ok, broken))
    assert "1 account(s) could not be planned: apps-prd" in text
    assert "match the spec" not in text and "No changes." not in text
    assert "incomplete" in text
    assert "No changes.[/] The accounts match the spec." in render_plan(_plan(ok))
    change = Change(Address("security", Kind.USER, "jane.doe"), Action.CREATE, None, {})
    with_change = AccountPlan("security", "222222222222", "arn", "caller", "f", changes=(change,))
    assert "incomplete: 1 account(s) not planned" in render_plan(_plan(with_change, broken))


# --- finding 7: the people's --profile is their own ------------------------------------------------


def test_the_peoples_commands_say_profile_is_your_own(tmp_path: Path) -> None:
    """Finding 7: `mfa enable --help` and `whoami --help` called --profile the operator's."""
    for args in (("mfa", "enable", "--help"), ("whoami", "--help")):
        r = iamlayer(*args, cwd=tmp_path)
        assert r.returncode == 0
        text = " ".join(r.stdout.split())
        assert "operator" not in text, text
        assert "your own credentials" in text
    r = iamlayer("plan", "--help", cwd=tmp_path)
    assert "operator's credentials" in " ".join(r.stdout.split())


# --- finding 4: an HTML error page is summed up, not dumped ----------------------------------------


def test_an_html_error_page_is_named_by_its_title() -> None:
    """Finding 4: `sts-regions --set-token-version v2` dumped the emulator's raw HTML 500 page."""
    from iamlayer.aws.errors import unreadable_answer

    page = (
        "Unable to parse response (syntax error: line 1, column 0), invalid XML received. Further "
        "retries may succeed:\nb'<!doctype html>\\n<html lang=en>\\n<title>500 Internal Server Error</title>"
        "\\n<h1>Internal Server Error</h1>\\n<p>The server encountered an internal error.</p>\\n'"
    )
    text = unreadable_answer(page)
    assert "500 Internal Server Error" in text and "does not implement this API" in text
    assert "<" not in text and "Unable to parse" not in text
