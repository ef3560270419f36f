"""Invalid specs: each class of error gives a diagnostic at the right line and key, with a hint."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

from spec_support import MINIMAL, line_of, load_errors, only, write_spec

from iamlayer.spec import policy_grammar as grammar
from iamlayer.spec.load import load_spec

# Two accounts, a role, a group, a policy and a user: the base most error cases modify.
BASE = """\
project: acme
accounts:
  management: {id: "111111111111"}
  security: {id: "222222222222"}
people_account: security
policies:
  billing: {document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "ce:Get*", Resource: "*"}]}}
roles:
  DevOps: {accounts: [management], policies: [arn:aws:iam::aws:policy/AdministratorAccess]}
groups:
  devops: {assume: [DevOps], policies: [billing]}
users:
  jane.doe: {pgp_key: keys/jane.doe, groups: [devops]}
"""


def spec_with(tmp_path: Path, old: str, new: str) -> Path:
    assert old in BASE
    return write_spec(tmp_path, BASE.replace(old, new), keys=["jane.doe"])


def test_base_is_valid(tmp_path: Path) -> None:
    assert load_spec(write_spec(tmp_path, BASE, keys=["jane.doe"]), check_keys=False).users


def test_unknown_field_with_did_you_mean_and_valid_fields(tmp_path: Path) -> None:
    path = spec_with(tmp_path, "groups: [devops]}", "grups: [devops]}")
    d = only(load_errors(path), "users.jane.doe.grups")
    assert d.line == line_of(path, "grups")
    assert "unknown field 'grups'" in d.message
    assert "did you mean 'groups'?" in (d.hint or "")
    assert "pgp_key, groups, console, access_key" in (d.hint or "")


def test_unknown_top_level_field(tmp_path: Path) -> None:
    path = spec_with(tmp_path, "people_account: security", "people_acount: security")
    diags = load_errors(path)
    d = only(diags, "people_acount")
    assert d.line == line_of(path, "people_acount") and "did you mean 'people_account'?" in (d.hint or "")
    # and because the real field is now missing, with two accounts:
    assert "people_account is required" in only(diags, "people_account").message


def test_wrong_types(tmp_path: Path) -> None:
    path = spec_with(tmp_path, "groups: [devops]}", 'groups: devops, console: "yes", access_key: 1}')
    diags = load_errors(path)
    line = line_of(path, "jane.doe:")
    groups = only(diags, "users.jane.doe.groups")
    assert groups.line == line and "must be a list" in groups.message and "[devops]" in (groups.hint or "")
    console = only(diags, "users.jane.doe.console")
    assert "true or false" in console.message and "unquoted" in (console.hint or "")
    assert "got an integer" in only(diags, "users.jane.doe.access_key").message


def test_missing_required_field_uses_parent_line(tmp_path: Path) -> None:
    path = spec_with(tmp_path, "billing: {document:", "billing: {description:")
    d = only(load_errors(path), "policies.billing.document")
    assert d.line == line_of(path, "billing: {description")
    assert "missing required field 'document'" in d.message


def test_missing_project_is_reported_at_the_top(tmp_path: Path) -> None:
    path = spec_with(tmp_path, "project: acme\n", "")
    d = only(load_errors(path), "project")
    assert d.line == 1 and "missing required field" in d.message


def test_iam_name_rules(tmp_path: Path) -> None:
    long_role = "R" * 65
    text = BASE.replace("  DevOps: {", f"  {long_role}: {{accounts: []}}\n  DevOps: {{")
    text = text.replace("  jane.doe: {", '  "jane doe": {console: false}\n  jane.doe: {')
    text = text.replace("assume: [DevOps]", "assume: [DevOps], path: people")
    path = write_spec(tmp_path, text, keys=["jane.doe"])
    diags = load_errors(path)
    role = only(diags, f"roles.{long_role}")
    assert role.line == line_of(path, long_role) and "64 characters" in (role.hint or "")
    user = only(diags, "users.jane doe")
    assert user.line == line_of(path, '"jane doe"') and "invalid user name" in user.message
    p = only(diags, "groups.devops.path")
    assert "invalid" in p.message and "starts and ends with /" in (p.hint or "")


def test_names_are_unique_case_insensitively(tmp_path: Path) -> None:
    path = spec_with(tmp_path, "users:\n", "users:\n  Jane.Doe: {console: false}\n")
    d = only(load_errors(path), "users.jane.doe")
    assert d.line == line_of(path, "jane.doe: {pgp_key")
    assert "'Jane.Doe'" in d.message and "case" in d.message and "case-insensitively" in (d.hint or "")


def test_reference_errors_with_did_you_mean(tmp_path: Path) -> None:
    text = (
        BASE.replace("groups: [devops]}", "groups: [devopz]}")
        .replace("assume: [DevOps]", "assume: [Devops]")
        .replace("policies: [billing]", "policies: [biling]")
        .replace("accounts: [management]", "accounts: [managment]")
        .replace("people_account: security", "people_account: secrity")
    )
    path = write_spec(tmp_path, text, keys=["jane.doe"])
    diags = load_errors(path)
    cases = {
        "users.jane.doe.groups[0]": ("devopz", "group", "devops"),
        "groups.devops.assume[0]": ("Devops", "role", "DevOps"),
        "groups.devops.policies[0]": ("biling", "policy", "billing"),
        "roles.DevOps.accounts[0]": ("managment", "account", "management"),
        "people_account": ("secrity", "account", "security"),
    }
    for key, (wrong, what, right) in cases.items():
        d = only(diags, key)
        assert d.line == line_of(path, wrong), key
        assert f"unknown {what} '{wrong}'" in d.message
        assert d.hint == f"did you mean '{right}'?"


def test_reference_without_close_match_lists_the_names(tmp_path: Path) -> None:
    path = spec_with(tmp_path, "groups: [devops]}", "groups: [zzz]}")
    d = only(load_errors(path), "users.jane.doe.groups[0]")
    assert d.hint == "defined groups: devops"


def test_management_account_reference_and_trusted_management(tmp_path: Path) -> None:
    text = BASE.replace('  management: {id: "111111111111"}', '  payer: {id: "111111111111"}')
    text = text.replace("accounts: [management]", "accounts: [payer], trusted: management")
    text += "management_account: payr\n"
    path = write_spec(tmp_path, text, keys=["jane.doe"])
    diags = load_errors(path)
    assert only(diags, "management_account").hint == "did you mean 'payer'?"
    trusted = only(diags, "roles.DevOps.trusted")
    assert trusted.line == line_of(path, "trusted: management")


def test_account_ids_and_aliases(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        """\
        project: acme
        project_long: Acme_Corp
        accounts:
          a: {id: "12345678901", alias: -bad-}
          b: {id: 123}
          c: {id: "222222222222", alias: shared-alias}
          d: {id: "222222222222", alias: shared-alias}
          e: {id: "333333333333"}
        people_account: a
        """,
    )
    diags = load_errors(path)
    short = only(diags, "accounts.a.id")
    assert "exactly 12 digits" in short.message and "quotes" in (short.hint or "")
    assert only(diags, "accounts.a.alias").hint.startswith("an account alias is 3-63")  # type: ignore[union-attr]
    assert "exactly 12 digits" in only(diags, "accounts.b.id").message
    dup = only(diags, "accounts.d.id")
    assert dup.line == line_of(path, "d: {id") and "also used by account 'c'" in dup.message
    assert "also the alias of account 'c'" in only(diags, "accounts.d.alias").message
    # e has no alias: its default <project_long>-e is invalid because project_long is
    default = only(diags, "accounts.e")
    assert "Acme_Corp-e" in default.message and "alias: false" in (default.hint or "")


def test_password_policy_ranges_and_classes(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        MINIMAL + "password_policy: {minimum_length: 4, require: [upper, digits], "
        "max_age_days: 2000, reuse_prevention: 25, hard_expiry: maybe}\n",
    )
    diags = load_errors(path)
    assert "6..128" in only(diags, "password_policy.minimum_length").message
    req = only(diags, "password_policy.require[1]")
    assert "valid values: upper, lower, numbers, symbols" in (req.hint or "")
    assert "1..1095" in only(diags, "password_policy.max_age_days").message
    assert "1..24" in only(diags, "password_policy.reuse_prevention").message
    assert "true or false" in only(diags, "password_policy.hard_expiry").message


def test_role_settings(tmp_path: Path) -> None:
    path = spec_with(
        tmp_path,
        "policies: [arn:aws:iam::aws:policy/AdministratorAccess]}",
        "policies: [billing, arn:aws:iam:::policy/x], max_session_duration: 600, "
        "trusted: peoples, permissions_boundary: boundary}",
    )
    diags = load_errors(path)
    assert "only attach managed policies by ARN" in (only(diags, "roles.DevOps.policies[0]").hint or "")
    assert "invalid policy ARN" in only(diags, "roles.DevOps.policies[1]").message
    assert "3600..43200" in only(diags, "roles.DevOps.max_session_duration").message
    assert "did you mean 'people'?" in (only(diags, "roles.DevOps.trusted").hint or "")
    assert "invalid" in only(diags, "roles.DevOps.permissions_boundary").message


def test_self_management_choice(tmp_path: Path) -> None:
    path = spec_with(tmp_path, "policies: [billing]}", "policies: [billing], self_management: enforce-mfa}")
    d = only(load_errors(path), "groups.devops.self_management")
    assert d.hint == "did you mean 'enforce_mfa'? valid values: none, enforce_mfa, restricted"


def test_missing_pgp_key_file_hint(tmp_path: Path) -> None:
    path = write_spec(tmp_path, BASE)  # keys/jane.doe not created
    d = only(load_errors(path, check_keys=True), "users.jane.doe.pgp_key")
    assert d.line == line_of(path, "jane.doe:")
    assert "not found" in d.message
    assert d.hint == (
        "add it with: gpg --export NAME | base64 > keys/jane.doe "
        "(or an armored export: gpg --export --armor NAME > keys/jane.doe)"
    )


def test_secrets_need_a_pgp_key(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        MINIMAL
        + dedent("""\
        users:
          a: {console: true}
          b: {access_key: true, console: false}
          c: {console: false}
        """),
    )
    diags = load_errors(path)
    a = only(diags, "users.a.console")
    assert "no pgp_key" in a.message and "pgp_key: keys/a" in (a.hint or "")
    assert "no pgp_key" in only(diags, "users.b.access_key").message
    assert not [d for d in diags if d.key.startswith("users.c")]


def test_policy_grammar_errors_point_inside_the_document(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        MINIMAL
        + dedent("""\
        policies:
          p:
            document:
              Version: "2012-10-17"
              Statement:
                - Effect: Alow
                  Action: [s3GetObject]
                  Resource: "*"
                  NotResource: "arn:aws:s3:::x"
                - Effect: Allow
                  Principal: "*"
                  NotAction: "*"
                  Resource: bucket
                  Condition: {StringEqual: {"aws:username": x}}
        """),
    )
    diags = load_errors(path)
    effect = only(diags, "policies.p.document.Statement[0].Effect")
    assert effect.line == line_of(path, "Effect: Alow")
    assert "did you mean 'Allow'?" in (effect.hint or "")
    action = only(diags, "policies.p.document.Statement[0].Action[0]")
    assert action.line == line_of(path, "s3GetObject") and "service:Action" in (action.hint or "")
    assert "not both" in only(diags, "policies.p.document.Statement[0].NotResource").message
    principal = only(diags, "policies.p.document.Statement[1].Principal")
    assert principal.line == line_of(path, "Principal") and "identity-based" in principal.message
    assert "invalid resource" in only(diags, "policies.p.document.Statement[1].Resource").message
    cond = only(diags, "policies.p.document.Statement[1].Condition.StringEqual")
    assert cond.line == line_of(path, "StringEqual") and "did you mean 'StringEquals'?" in (cond.hint or "")


def test_policy_document_shapes(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        MINIMAL
        + dedent("""\
        policies:
          empty: {document: {Version: "2012-10-17", Statement: []}}
          noversion: {document: {Statement: {Effect: Deny, Action: "*", Resource: "*"}}}
          oldversion: {document: {Version: "2012-10-18", Statement: {Effect: Deny, Action: "*"}}}
          scalar: {document: 42}
        """),
    )
    diags = load_errors(path)
    assert "must not be empty" in only(diags, "policies.empty.document.Statement").message
    assert 'Version: "2012-10-17"' in (only(diags, "policies.noversion.document").hint or "")
    assert "Version must be one of" in only(diags, "policies.oldversion.document.Version").message
    assert "missing Resource" in only(diags, "policies.oldversion.document.Statement").message
    assert "mapping or a path to a JSON file" in only(diags, "policies.scalar.document").message


def test_policy_document_files(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"Version": "2012-10-17",\n "Statement": [}')
    (tmp_path / "wrong.json").write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}')
    path = write_spec(
        tmp_path,
        MINIMAL
        + dedent("""\
        policies:
          a: {document: missing.json}
          b: {document: bad.json}
          c: {document: wrong.json}
        """),
    )
    diags = load_errors(path)
    a = only(diags, "policies.a.document")
    assert a.line == line_of(path, "missing.json") and "not found" in a.message
    b = only(diags, "policies.b.document")
    assert "not valid JSON" in b.message and "(line 2" in b.message
    c = [d for d in diags if d.key == "policies.c.document.Statement[0]"]
    assert [d.message for d in c] == [
        "missing Action (or NotAction) (in wrong.json)",
        "missing Resource (or NotResource) (in wrong.json)",
    ]
    assert {d.line for d in c} == {line_of(path, "wrong.json")}


def _doc_of_size(size: int) -> dict[str, object]:
    """A valid document whose whitespace-free JSON is exactly `size` characters."""
    doc: dict[str, object] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/"}],
    }
    pad = size - grammar.policy_size(doc)
    doc["Statement"] = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/" + "x" * pad}
    ]
    assert grammar.policy_size(doc) == size
    return doc


def test_managed_policy_size_limit_counts_without_whitespace(tmp_path: Path) -> None:
    limit = grammar.MANAGED_POLICY_LIMIT
    # pretty-printed, the file is far larger than the limit; AWS does not count whitespace
    (tmp_path / "at-limit.json").write_text(json.dumps(_doc_of_size(limit), indent=8))
    (tmp_path / "over.json").write_text(json.dumps(_doc_of_size(limit + 1)))
    assert (tmp_path / "at-limit.json").stat().st_size > limit
    path = write_spec(
        tmp_path, MINIMAL + "policies:\n  ok: {document: at-limit.json}\n  big: {document: over.json}\n"
    )
    diags = load_errors(path)
    d = only(diags, "policies.big.document")
    assert f"{limit + 1:,} characters" in d.message and f"{limit:,}" in d.message
    assert [x.key for x in diags] == ["policies.big.document"]


def test_inline_limits_per_group_and_role(tmp_path: Path) -> None:
    half = grammar.GROUP_INLINE_LIMIT // 2 + 1
    group_doc = json.dumps(_doc_of_size(half))
    role_doc = json.dumps(_doc_of_size(grammar.ROLE_INLINE_LIMIT + 1))
    ok_role_doc = json.dumps(_doc_of_size(grammar.ROLE_INLINE_LIMIT))
    path = write_spec(
        tmp_path,
        MINIMAL
        + f"""\
groups:
  g:
    inline_policies:
      one: {group_doc}
      two: {group_doc}
roles:
  big:
    inline_policies:
      huge: {role_doc}
  fits:
    inline_policies:
      exact: {ok_role_doc}
""",
    )
    diags = load_errors(path)
    g = only(diags, "groups.g.inline_policies")  # each fits, together they do not
    assert f"total {2 * half:,} characters" in g.message and f"{grammar.GROUP_INLINE_LIMIT:,}" in g.message
    r = only(diags, "roles.big.inline_policies.huge")
    assert r.line == line_of(path, "huge:") and f"{grammar.ROLE_INLINE_LIMIT:,}" in r.message
    assert not [d for d in diags if d.key.startswith("roles.fits")]


def test_yaml_syntax_error_has_the_line(tmp_path: Path) -> None:
    path = write_spec(tmp_path, MINIMAL + "users:\n  jane: {console: false\n  bob: {}\n")
    [d] = load_errors(path)
    assert d.message.startswith("YAML syntax error")
    assert d.line in (line_of(path, "jane:"), line_of(path, "bob:"))


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = write_spec(tmp_path, MINIMAL + "users:\n  bob: {console: false}\n  bob: {console: false}\n")
    [d] = load_errors(path)
    assert d.line == line_of(path, "bob:", nth=2) and "duplicate key" in d.message


def test_every_error_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = (
        BASE.replace("project: acme", "project: Acme")
        .replace('{id: "222222222222"}', '{id: "22222222222"}')
        .replace("assume: [DevOps]", "assume: [DevOpz]")
        .replace("groups: [devops]}", "groups: [devops], colour: blue}")
    )
    path = write_spec(tmp_path, text)  # and no key file
    diags = load_errors(path, check_keys=True)
    assert {d.key for d in diags} == {
        "project",
        "accounts.security.id",
        "groups.devops.assume[0]",
        "users.jane.doe.pgp_key",
        "users.jane.doe.colour",
    }
    assert len(diags) == 5
    lines = [d.line for d in diags]
    assert lines == sorted(lines)
    assert all(d.file == str(path) for d in diags)


def test_without_key_checks_key_files_are_not_looked_at(tmp_path: Path) -> None:
    """A person's own commands (credentials configure, onboard) load the spec without key checks:
    they have the spec and at most their own key, not everyone's (issue 13, finding 3)."""
    path = write_spec(tmp_path, BASE)  # keys/jane.doe not created
    spec = load_spec(path, check_keys=False)
    assert spec.users["jane.doe"].pgp_key == (tmp_path / "keys" / "jane.doe").resolve()
    assert only(load_errors(path, check_keys=True), "users.jane.doe.pgp_key").message.endswith("not found")


def test_spec_error_renders_file_line_key_and_hint(tmp_path: Path) -> None:
    path = spec_with(tmp_path, "groups: [devops]}", "groups: [devopz]}")
    d = only(load_errors(path), "users.jane.doe.groups[0]")
    assert str(d) == (
        f"{path}:{d.line}: error: users.jane.doe.groups[0]: unknown group 'devopz' (did you mean 'devops'?)"
    )


def test_account_names_are_safe_for_paths_and_profiles(tmp_path: Path) -> None:
    path = write_spec(tmp_path, 'project: acme\naccounts:\n  "../up": {id: "111111111111", alias: false}\n')
    d = only(load_errors(path), "accounts.../up")
    assert d.line == 3 and "invalid account name" in d.message


def test_fifty_tags_leave_no_room_for_iamlayers_ownership_tag(tmp_path: Path) -> None:
    """IAM allows 50 tags per user or role; iamlayer adds iamlayer:project, so a spec may give 49."""

    def tags(n: int) -> str:
        return "{" + ", ".join(f"t{i}: v" for i in range(n)) + "}"

    path = spec_with(tmp_path, "groups: [devops]}", f"groups: [devops], tags: {tags(50)}}}")
    d = only(load_errors(path), "users.jane.doe.tags")
    assert d.line == line_of(path, "tags:")
    assert (
        "50 tags" in d.message and "ownership tag iamlayer:project" in d.message and "at most 49" in d.message
    )
    path = spec_with(
        tmp_path, "policies: [arn:aws:iam::aws:policy/AdministratorAccess]}", f"tags: {tags(50)}}}"
    )
    assert "at most 49" in only(load_errors(path), "roles.DevOps.tags").message
    ok = spec_with(tmp_path, "groups: [devops]}", f"groups: [devops], tags: {tags(49)}}}")
    assert len(load_spec(ok, check_keys=False).users["jane.doe"].tags) == 49
