"""The kind registry (iamlayer.kinds) is complete, and what is derived from it holds.

- every Kind has a declaration with every part (or says why a part is empty);
- the handlers registered with `@handles(...)` cover exactly the actions each kind declares;
- `operator-policy` is exactly the kinds' reads plus the handlers' (and other commands') writes;
- every quota checked at validate time passes at its limit and fails past it (exit code 2): a
  quota added to the registry without a case here, or without enforcement, fails this test;
- the diff puts in a change only the fields and carried data its kind declares;
- the Terraform importer reads every type the kinds declare.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from test_ic_diff import SPEC as IC_SPEC
from test_ic_diff import live_like
from test_ic_diff import run as run_ic

from iamlayer import kinds
from iamlayer.api import operator_policy
from iamlayer.apply.executor import required_permissions
from iamlayer.apply.handlers import HANDLERS
from iamlayer.cli.common import run_guarded
from iamlayer.cli.main import cli
from iamlayer.importer import terraform
from iamlayer.kinds import REGISTRY, Home, Quota
from iamlayer.plan.desired import desired_state
from iamlayer.plan.diff import SecretIntent, diff
from iamlayer.plan.model import Action, Change, Kind
from iamlayer.spec.load import load_spec
from iamlayer.spec.policy_grammar import policy_size
from iamlayer.state.ic_model import IcState
from iamlayer.state.model import AccountState, group_marker_document
from iamlayer.state.normalize import normalize

SERVICES = {"iam", "sso-admin", "identitystore", "account-access"}
OWNERSHIP = {
    "tag",
    "marker policy",
    "description marker",
    "user type marker",
    "parent",
    "account",
    "local file",
}


# --- completeness -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.value)
def test_every_kind_is_declared_with_every_part(kind: Kind) -> None:
    assert kind in REGISTRY, f"{kind.value} has no declaration in iamlayer.kinds"
    s = REGISTRY[kind]
    assert s.kind is kind
    assert s.label and s.label == s.label.strip(), kind
    assert s.service in SERVICES, kind
    assert isinstance(s.home, Home)
    assert s.reads or s.per_resource, f"{kind.value}: how is it read?"
    assert all(re.fullmatch(r"[a-z-]+:[A-Za-z]+", p) for c in (*s.reads, *s.per_resource) for p in c.needs)
    assert s.fields, f"{kind.value}: which fields does the diff compare?"
    assert not set(s.fields) & set(s.carried), kind
    assert s.ownership.how in OWNERSHIP and s.ownership.detail, kind
    # quotas: some, or why AWS documents none (never both)
    assert bool(s.quotas) != bool(s.no_quotas_because), f"{kind.value}: quotas, or why there are none"
    assert len({q.name for q in s.quotas}) == len(s.quotas), kind
    for q in s.quotas:
        assert q.limit > 0 and q.counts and q.aws_name, (kind, q.name)
        assert q.default is None or 0 < q.default < q.limit, (kind, q.name)
        assert q.at_validate or q.checked.startswith("apply: "), (kind, q.name)
    # dependencies: rules, or why it has none
    has_rules = s.provides is not kinds._none or s.uses is not kinds._none
    assert has_rules != bool(s.no_dependencies_because), f"{kind.value}: dependencies, or why none"
    assert s.actions, kind
    # Terraform and import: a mapping, or why not
    assert bool(s.terraform) != bool(s.no_terraform_because), kind
    assert all(t.startswith("aws_") for t in s.terraform)
    assert s.importable or s.not_importable_because, kind
    assert isinstance(s.stage, int) and 0 <= s.stage <= kinds.LAST_STAGE


@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.value)
def test_the_handlers_cover_exactly_the_actions_a_kind_declares(kind: Kind) -> None:
    registered = {action for (k, action) in HANDLERS if k is kind}
    assert registered == REGISTRY[kind].actions, (
        f"{kind.value}: handlers for {sorted(registered)}, declared {sorted(REGISTRY[kind].actions)}"
    )


def test_operator_policy_is_exactly_the_declared_reads_and_writes() -> None:
    statements = {st["Sid"]: st["Action"] for st in operator_policy()["Statement"]}
    reads = {p for s in REGISTRY.values() for c in (*s.reads, *s.per_resource) for p in c.needs}
    assert set(statements["IamlayerRead"]) == reads | set(kinds.SESSION_READS)
    writes = {p for h in HANDLERS.values() for p in h.permissions} | {
        p for s in REGISTRY.values() for p in s.other_writes
    }
    assert set(statements["IamlayerWrite"]) == writes
    assert set(required_permissions()) <= writes
    r = CliRunner().invoke(cli, ["operator-policy"])
    assert r.exit_code == 0 and json.loads(r.output) == operator_policy()


def test_the_plans_order_comes_from_the_kinds() -> None:
    for kind, s in REGISTRY.items():
        for action in Action:
            got = Change.__dict__["stage"].fget(Change(_address(kind), action))
            if action is not Action.DELETE:
                assert got == s.stage
            elif s.early_delete_stage is not None:
                assert got == s.early_delete_stage < s.stage  # goes among the creates, before its own
            else:
                assert got > kinds.LAST_STAGE  # after every create


def _address(kind: Kind) -> Any:
    from iamlayer.plan.model import Address

    return Address("security", kind, "x")


# --- the diff's changes carry what their kind declares ------------------------------------------------


def _check_fields(changes: list[Change]) -> set[tuple[Kind, Action]]:
    for c in changes:
        s = REGISTRY[c.address.kind]
        for data in (c.before, c.after):
            extra = set(data or {}) - set(s.fields) - set(s.carried)
            assert not extra, f"{c.address} ({c.action.value}) carries undeclared {sorted(extra)}"
    return {(c.address.kind, c.action) for c in changes}


def test_iam_changes_carry_only_declared_fields(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    for k in ("jane.doe", "machine.infra"):
        (tmp_path / "keys" / k).write_text("not read")
    shutil.copy(Path(__file__).parent / "spec_fixtures" / "design_example.yaml", tmp_path / "iamlayer.yaml")
    spec = load_spec(tmp_path / "iamlayer.yaml", check_keys=False)
    intents = {"jane.doe": SecretIntent("k", "F" * 40), "machine.ci": SecretIntent("k", "E" * 40)}
    changes: list[Change] = []
    for name, acc in spec.accounts.items():
        want, empty = desired_state(spec, name), AccountState(account_id=acc.id)
        people = name == spec.people_account
        changes += diff(name, "acme", want, empty, secret_intents=intents if people else {}).changes
        live = desired_state(spec, name)
        for g in live.groups.values():
            g.owner = "acme"
        changes += diff(name, "acme", empty, live).changes  # every owned resource deleted
        drift = desired_state(spec, name)
        for g in drift.groups.values():
            g.owner, g.path, g.inline = "acme", "/old/", {k: {"Version": "2008-10-17"} for k in g.inline}
        for r in drift.roles.values():
            r.description, r.max_session_duration = "old", 7200
        for p in drift.policies.values():
            p.document = {"Version": "2008-10-17"}
        changes += diff(name, "acme", want, drift).changes
    seen = _check_fields(changes)
    assert {(Kind.ROLE, Action.UPDATE), (Kind.GROUP, Action.UPDATE), (Kind.POLICY, Action.UPDATE)} <= seen
    assert {
        (Kind.USER, Action.DELETE),
        (Kind.LOGIN_PROFILE, Action.CREATE),
        (Kind.ACCESS_KEY, Action.CREATE),
    } <= seen


def test_identity_center_changes_carry_only_declared_fields(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "iamlayer.yaml").write_text(IC_SPEC)
    spec = load_spec(tmp_path / "a" / "iamlayer.yaml", check_keys=False)
    created, _, _ = run_ic(spec, IcState(instance_arn="arn:aws:sso:::instance/ssoins-1111111111111111"))
    live = live_like(spec)
    changed = copy.deepcopy(live)
    changed.users["jane.doe"].given_name = "Old"
    changed.groups["devops"].description = "old [iamlayer:acme]"
    for ps in changed.permission_sets.values():
        ps.session_duration = "PT1H"
    updated, _, _ = run_ic(spec, changed)
    gone_text = (
        IC_SPEC.split("identity_center:")[0]
        + "identity_center: {users: {}, groups: {}, permission_sets: {}}\n"
    )
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "iamlayer.yaml").write_text(gone_text)
    deleted, _, _ = run_ic(load_spec(tmp_path / "b" / "iamlayer.yaml", check_keys=False), live)
    seen = _check_fields(created + updated + deleted)
    for kind in (Kind.IC_USER, Kind.IC_GROUP, Kind.PERMISSION_SET, Kind.IC_ASSIGNMENT, Kind.IC_MEMBERSHIP):
        assert {(kind, Action.CREATE), (kind, Action.DELETE)} <= seen, kind
    assert (Kind.IC_PROVISION, Action.UPDATE) in seen


# --- Terraform --------------------------------------------------------------------------------------


def test_the_terraform_importer_reads_every_type_the_kinds_declare() -> None:
    assert set(terraform.TYPES) == {t for s in REGISTRY.values() for t in s.terraform}
    source = inspect.getsource(terraform)
    body = source.split("TYPES = terraform_types()", 1)[1]
    for t in terraform.TYPES:
        assert f'"{t}"' in source.split("TYPES =", 1)[0] + body, (
            f"{t} is declared but terraform.py never reads it"
        )


# --- quotas: at the limit valid, past it invalid (exit code 2) --------------------------------------

BASE: dict[str, Any] = {
    "project": "acme",
    "accounts": {"management": {"id": "111111111111"}, "security": {"id": "222222222222"}},
    "people_account": "security",
}
ALLOW = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
DOC = {"Version": "2012-10-17", "Statement": [ALLOW]}


def _padded(doc: Callable[[str], dict[str, Any]], n: int) -> dict[str, Any]:
    """`doc(pad)`, in the normalized form iamlayer writes (so the spec's size is the size IAM
    counts), padded to exactly `n` characters of whitespace-free JSON."""
    short = policy_size(normalize(doc("")))
    padded = normalize(doc("b" * (n - short)))
    assert policy_size(padded) == n
    return padded


def doc_of_size(n: int) -> dict[str, Any]:
    return _padded(
        lambda pad: {"Version": "2012-10-17", "Statement": [{**ALLOW, "Resource": f"arn:aws:s3:::{pad}"}]}, n
    )


def trust_of_size(n: int) -> dict[str, Any]:
    def trust(pad: str) -> dict[str, Any]:
        stmt = {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": f"e{pad}"}},
        }
        return {"Version": "2012-10-17", "Statement": [stmt]}

    return _padded(trust, n)


def path_of(n: int) -> str:
    return "/" + "p" * (n - 2) + "/"


def arns(n: int) -> list[str]:
    return [f"arn:aws:iam::aws:policy/P{i}" for i in range(n)]


def tags(n: int) -> dict[str, str]:
    """`n` tags with iamlayer's ownership tag (which it adds itself)."""
    return {f"k{i}": "v" for i in range(n - 1)}


def with_(**parts: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASE), **parts}


def ic(**parts: Any) -> dict[str, Any]:
    return with_(identity_center={"users": {}, "groups": {}, "permission_sets": {}, **parts})


def ic_user(**fields: Any) -> dict[str, Any]:
    return {"email": "a@example.com", "given_name": "A", "family_name": "B", **fields}


GROUP_MARKER = policy_size(group_marker_document())


def grants_of_size(n: int) -> dict[str, Any]:
    """A spec whose one grant renders user u's grants policy at exactly `n` characters (the
    reason, in its Sid, pads it)."""

    def doc(pad: str) -> dict[str, Any]:
        stmt = {
            "Sid": f"Grant{pad}",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": ["arn:aws:iam::222222222222:role/r"],
            "Condition": {"DateLessThan": {"aws:CurrentTime": "2099-01-01T00:00:00Z"}},
        }
        return {"Version": "2012-10-17", "Statement": [stmt]}

    reason = _padded(doc, n)["Statement"][0]["Sid"][len("Grant") :]
    grant = {
        "who": "u",
        "assume": "r",
        "accounts": ["security"],
        "until": "2099-01-01T00:00:00Z",
        "reason": reason,
    }
    return with_(roles={"r": {"accounts": ["security"]}}, users={"u": {}}, grants=[grant])


#: (kind, quota) -> the spec with `n` of what the quota counts
CASES: dict[tuple[Kind, str], Callable[[int], dict[str, Any]]] = {
    (Kind.ACCOUNT_ALIAS, "length"): lambda n: with_(
        accounts={"management": {"id": "111111111111"}, "security": {"id": "222222222222", "alias": "a" * n}}
    ),
    (Kind.PASSWORD_POLICY, "minimum_length"): lambda n: with_(password_policy={"minimum_length": n}),
    (Kind.PASSWORD_POLICY, "max_age_days"): lambda n: with_(password_policy={"max_age_days": n}),
    (Kind.PASSWORD_POLICY, "reuse_prevention"): lambda n: with_(password_policy={"reuse_prevention": n}),
    (Kind.POLICY, "name"): lambda n: with_(policies={"p" * n: {"document": DOC}}),
    (Kind.POLICY, "path"): lambda n: with_(policies={"p": {"document": DOC, "path": path_of(n)}}),
    (Kind.POLICY, "description"): lambda n: with_(policies={"p": {"document": DOC, "description": "d" * n}}),
    (Kind.POLICY, "document"): lambda n: with_(policies={"p": {"document": doc_of_size(n)}}),
    (Kind.ROLE, "name"): lambda n: with_(roles={"r" * n: {}}),
    (Kind.ROLE, "path"): lambda n: with_(roles={"r": {"path": path_of(n)}}),
    (Kind.ROLE, "description"): lambda n: with_(roles={"r": {"description": "d" * n}}),
    (Kind.ROLE, "tags"): lambda n: with_(roles={"r": {"tags": tags(n)}}),
    (Kind.ROLE, "inline_policies"): lambda n: with_(roles={"r": {"inline_policies": {"i": doc_of_size(n)}}}),
    (Kind.ROLE, "managed_policies"): lambda n: with_(roles={"r": {"policies": arns(n)}}),
    (Kind.ROLE, "trust_policy"): lambda n: with_(roles={"r": {"trust_policy": trust_of_size(n)}}),
    (Kind.ROLE_INLINE_POLICY, "name"): lambda n: with_(roles={"r": {"inline_policies": {"i" * n: DOC}}}),
    (Kind.GROUP, "name"): lambda n: with_(groups={"g" * n: {}}),
    (Kind.GROUP, "path"): lambda n: with_(groups={"g": {"path": path_of(n)}}),
    # iamlayer's marker policy counts too
    (Kind.GROUP, "inline_policies"): lambda n: with_(
        groups={"g": {"inline_policies": {"i": doc_of_size(n - GROUP_MARKER)}}}
    ),
    (Kind.GROUP, "managed_policies"): lambda n: with_(groups={"g": {"policies": arns(n)}}),
    (Kind.GROUP_INLINE_POLICY, "name"): lambda n: with_(groups={"g": {"inline_policies": {"i" * n: DOC}}}),
    (Kind.USER, "name"): lambda n: with_(users={"u" * n: {}}),
    (Kind.USER, "path"): lambda n: with_(users={"u": {"path": path_of(n)}}),
    (Kind.USER, "tags"): lambda n: with_(users={"u": {"tags": tags(n)}}),
    (Kind.USER, "groups"): lambda n: with_(
        groups={f"g{i}": {} for i in range(n)}, users={"u": {"groups": [f"g{i}" for i in range(n)]}}
    ),
    (Kind.USER, "inline_policies"): grants_of_size,
    (Kind.IC_USER, "name"): lambda n: ic(users={"u" * n: ic_user()}),
    (Kind.IC_USER, "name_part"): lambda n: ic(users={"u": ic_user(given_name="g" * n)}),
    (Kind.IC_GROUP, "name"): lambda n: ic(groups={"g" * n: {}}),
    (Kind.IC_GROUP, "description"): lambda n: ic(groups={"g": {"description": "d" * n}}),
    (Kind.PERMISSION_SET, "name"): lambda n: ic(permission_sets={"P" * n: {}}),
    (Kind.PERMISSION_SET, "description"): lambda n: ic(permission_sets={"P": {"description": "d" * n}}),
    (Kind.PERMISSION_SET, "relay_state"): lambda n: ic(
        permission_sets={"P": {"relay_state": "https://x.example/" + "r" * (n - 18)}}
    ),
    (Kind.PERMISSION_SET, "inline_policy"): lambda n: ic(
        permission_sets={"P": {"inline_policy": doc_of_size(n)}}
    ),
    (Kind.PERMISSION_SET, "managed_policies"): lambda n: ic(permission_sets={"P": {"policies": arns(n)}}),
    (Kind.OIDC_PROVIDER, "url"): lambda n: with_(
        ci={
            "gitlab": {
                "project": "acme/infra",
                "url": "https://" + "g" * (n - 8),
                "apply": {"branch": "main"},
            }
        }
    ),
}

VALIDATED = [(k, q) for k, s in REGISTRY.items() for q in s.quotas if q.at_validate]


def test_every_quota_checked_at_validate_has_a_case() -> None:
    declared = {(k, q.name) for k, q in VALIDATED}
    assert declared == set(CASES), (
        f"quotas without a case here: {sorted((k.value, n) for k, n in declared - set(CASES))}; "
        f"cases of no quota: {sorted((k.value, n) for k, n in set(CASES) - declared)}"
    )


def _validate(tmp_path: Path, spec: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`iamlayer validate` of `spec`: its exit code and everything it printed."""
    path = tmp_path / "iamlayer.yaml"
    # YAML's plain keys stop at 1,024 characters: longer ones are written as explicit keys (`? `)
    path.write_text(yaml.safe_dump(spec, width=1 << 30, sort_keys=False))
    code = run_guarded(cli, ["validate", "-f", str(path)])
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())


@pytest.mark.parametrize(("kind", "q"), VALIDATED, ids=lambda x: x.value if isinstance(x, Kind) else x.name)
def test_a_quota_is_valid_at_its_limit_and_refused_past_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: Kind, q: Quota
) -> None:
    build = CASES[(kind, q.name)]
    for d in ("at", "past", "default"):
        (tmp_path / d).mkdir()
    code, at = _validate(tmp_path / "at", build(q.limit), capsys)
    assert code == 0, at
    code, past = _validate(tmp_path / "past", build(q.limit + 1), capsys)
    assert code == 2, past
    assert str(q.limit) in past or f"{q.limit:,}" in past, f"the error does not say the limit: {past}"
    if q.default is not None:
        assert "warning" in at and "quota" in at, at  # past the default: AWS refuses until it is raised
        code, quiet = _validate(tmp_path / "default", build(q.default), capsys)
        assert code == 0 and "warning" not in quiet, quiet
