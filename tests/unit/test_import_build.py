"""The import's builder and writer, pure: what each state becomes in the spec, and that the YAML
written loads back as exactly the spec that was built."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from spec_support import write_key

from iamlayer.importer.build import (
    ImportOptions,
    build_spec,
    common_alias_prefix,
    foreign_role,
    legacy_assume_document,
    recognise_assume,
    recognise_self_management,
    recognise_trust,
)
from iamlayer.importer.model import IcSource, ImportSource, SourceAccount
from iamlayer.importer.writer import render_spec, scalar
from iamlayer.plan.desired import (
    ACCOUNT_ACCESS_TRUST,
    account_grants,
    assume_document,
    self_management_policy,
    trust_document,
    trust_policy,
)
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import PasswordPolicy, SelfManagement, Spec
from iamlayer.state.ic_model import (
    AssignmentState,
    EntitlementState,
    IcGroupState,
    IcState,
    IcUserState,
    PermissionSetState,
)
from iamlayer.state.model import (
    OWNER_TAG,
    AccessKey,
    AccountState,
    GroupState,
    PolicyState,
    RoleState,
    UserState,
    policy_marker,
)
from iamlayer.state.normalize import normalize

MGMT, SEC, PRD, DEV = "100000000001", "100000000002", "100000000003", "100000000004"
DOC = normalize(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
)


@pytest.mark.parametrize("mfa", [None, 3600])
@pytest.mark.parametrize("si", [False, True])
@pytest.mark.parametrize("ts", [False, True])
@pytest.mark.parametrize("named", [False, True])
def test_iamlayer_trust_shapes_are_recognised(mfa: int | None, si: bool, ts: bool, named: bool) -> None:
    doc = trust_document(SEC, mfa_max_age=mfa, source_identity=si, tag_session=ts, named_sessions=named)
    shape = recognise_trust(doc)
    assert shape is not None and (
        shape.trusted_account_id,
        shape.mfa_max_age,
        shape.source_identity,
        shape.tag_session,
        shape.named_sessions,
    ) == (SEC, mfa, si, ts, named)


def _statement(**changes: Any) -> dict[str, Any]:
    doc = trust_document(SEC, mfa_max_age=3600, source_identity=False, tag_session=False)
    st = {**doc["Statement"][0], **changes}
    return {"Version": "2012-10-17", "Statement": [{k: v for k, v in st.items() if v is not None}]}


@pytest.mark.parametrize(
    "doc",
    [
        _statement(Sid="Named"),
        _statement(Principal={"AWS": [f"arn:aws:iam::{SEC}:root", f"arn:aws:iam::{PRD}:root"]}),
        _statement(Principal={"AWS": f"arn:aws:iam::{SEC}:user/jane"}),
        _statement(Principal={"Service": "ec2.amazonaws.com"}),
        _statement(Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        _statement(
            Condition={
                "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"},
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
                "StringEquals": {"sts:ExternalId": "x"},
            }
        ),
        _statement(Action=["sts:AssumeRole", "sts:AssumeRoleWithSAML"]),
        {"Version": "2008-10-17", "Statement": _statement()["Statement"]},
    ],
)
def test_other_trust_policies_are_not_recognised(doc: dict[str, Any]) -> None:
    assert recognise_trust(doc) is None


def _trusting(principal: Any, effect: str = "Allow") -> dict[str, Any]:
    return _statement(Principal=principal, Effect=effect, Condition=None)


@pytest.mark.parametrize(
    ("name", "path", "trust", "why"),
    [
        ("Ops", "/", trust_document(SEC, mfa_max_age=3600, source_identity=False, tag_session=False), None),
        (
            "Ops",
            "/",
            trust_document(MGMT, mfa_max_age=None, source_identity=True, tag_session=False),
            "it trusts",
        ),
        ("Ci", "/", _trusting({"AWS": f"arn:aws:iam::{SEC}:role/ci"}), None),
        ("Ci", "/", _trusting({"AWS": f"arn:aws:sts::{SEC}:assumed-role/ci/session"}), None),
        ("Ci", "/", _trusting({"AWS": SEC}), None),
        ("Ci", "/", _trusting({"AWS": [f"arn:aws:iam::{PRD}:root", f"arn:aws:iam::{SEC}:user/jane"]}), None),
        (
            "Ci",
            "/",
            _trusting({"AWS": f"arn:aws:iam::{SEC}:root"}, effect="Deny"),
            "trusts no principal of the people account",
        ),
        ("Ci", "/", _trusting({"AWS": f"arn:aws:iam::{MGMT}:root"}), f"it trusts arn:aws:iam::{MGMT}:root"),
        ("Ci", "/", _trusting("*"), "it trusts *"),
        ("fn", "/", _trusting({"Service": "lambda.amazonaws.com"}), "it trusts lambda.amazonaws.com"),
        ("fn", "/", _trusting({"Service": "ecs-tasks.amazonaws.com", "AWS": SEC}), "a service's role"),
        ("fn", "/service-role/", _trusting({"AWS": SEC}), "path /service-role/"),
        ("AWSControlTowerExecution", "/", _trusting({"AWS": SEC}), "AWS Control Tower"),
        ("aws-controltower-AdministratorExecutionRole", "/", _trusting({"AWS": SEC}), "AWS Control Tower"),
        ("stacksets-exec-0a1b2c3d4e5f", "/", _trusting({"AWS": SEC}), "CloudFormation StackSets"),
        ("AWSCloudFormationStackSetExecutionRole", "/", _trusting({"AWS": SEC}), "CloudFormation StackSets"),
        ("AWSReservedSSO_Admin_0123456789abcdef", "/", _trusting({"AWS": SEC}), "IAM Identity Center"),
    ],
)
def test_roles_that_are_not_the_layers_are_told_apart(
    name: str, path: str, trust: Any, why: str | None
) -> None:
    found = foreign_role(RoleState(name, path=path, trust=normalize(trust)), SEC)
    assert found == why if why is None else why in (found or "")


def test_group_policies_of_iamlayer_shapes_are_recognised() -> None:
    for mode in (SelfManagement.ENFORCE_MFA, SelfManagement.RESTRICTED):
        assert recognise_self_management(self_management_policy(mode)) is mode
    assert recognise_self_management(DOC) is None
    arns = {
        "A": frozenset({"arn:aws:iam::1:role/A", "arn:aws:iam::2:role/A"}),
        "B": frozenset({"arn:aws:iam::1:role/B"}),
    }
    # what iamlayer writes (each role in every account, its accounts by id), and what it wrote
    # before issue 21 (every role ARN listed)
    for shape in (lambda a: assume_document(account_grants(a)), legacy_assume_document):
        assert recognise_assume(shape(arns["A"] | arns["B"]), arns) == ("A", "B")
        assert recognise_assume(shape(arns["A"]), arns) == ("A",)
        assert recognise_assume(shape({"arn:aws:iam::1:role/A"}), arns) is None  # not every account of A
        assert recognise_assume(shape(arns["B"] | {"arn:aws:iam::9:role/X"}), arns) is None


def test_alias_prefix() -> None:
    assert (
        common_alias_prefix(["acme-corp-security", "acme-corp-apps-prd", "acme-corp-apps-devstg"])
        == "acme-corp"
    )
    assert common_alias_prefix(["acme-apps-a", "acme-apps-b"]) == "acme-apps"
    assert common_alias_prefix(["acme-security"]) is None  # one alias does not say where the prefix ends
    assert common_alias_prefix(["acme", "acme-prd"]) is None
    assert common_alias_prefix(["one", "two"]) is None


def test_scalars_read_back_as_strings() -> None:
    for text, out in (
        ("jane.doe", "jane.doe"),
        ("yes", '"yes"'),
        ("2012-10-17", '"2012-10-17"'),
        ("a b", '"a b"'),
        ("arn:aws:iam::aws:policy/X", '"arn:aws:iam::aws:policy/X"'),
        ("x,y", '"x,y"'),
        ("Null", '"Null"'),
        ("#c", '"#c"'),
    ):
        assert scalar(text) == out


# --- a whole organization, built and written ------------------------------------------------------------

OWN = {OWNER_TAG: "acme"}
POLICY = PasswordPolicy(minimum_length=20, reuse_prevention=10)
TRUST = trust_document(SEC, mfa_max_age=43200, source_identity=False, tag_session=False, named_sessions=True)
VENDOR = normalize(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:SecureTransport": True}},
            }
        ],
    }
)


def role(**kw: Any) -> RoleState:
    return RoleState(
        **{"name": "DevOps", "trust": TRUST, "attached": frozenset({"arn:aws:iam::aws:policy/A"}), **kw}
    )


def organization() -> ImportSource:
    people = AccountState(
        SEC,
        alias="acme-corp-security",
        password_policy=POLICY,
        policies={
            "read": PolicyState(
                "read",
                "/x/",
                f'Read: it\'s "quoted" {policy_marker("acme")}',
                DOC,
                f"arn:aws:iam::{SEC}:policy/x/read",
            ),
            "theirs": PolicyState(
                "theirs", "/", "made by hand", DOC, f"arn:aws:iam::{SEC}:policy/theirs", tags={}
            ),
            "other-project": PolicyState("other-project", description=policy_marker("zeta"), document=DOC),
        },
        groups={
            "devops": GroupState(
                "devops",
                attached=frozenset({f"arn:aws:iam::{SEC}:policy/x/read"}),
                owner="acme",
                inline={
                    "assume-roles": assume_document(
                        account_grants(
                            {
                                f"arn:aws:iam::{PRD}:role/DevOps",
                                f"arn:aws:iam::{SEC}:role/DevOps",
                                f"arn:aws:iam::{DEV}:role/DevOps",
                            }
                        )
                    ),
                    "self-management": self_management_policy(SelfManagement.ENFORCE_MFA),
                },
            ),
            "yes": GroupState(
                "yes",
                path="/teams/",
                attached=frozenset({f"arn:aws:iam::{SEC}:policy/theirs"}),
                inline={"extra": DOC},
            ),
            "big": GroupState(
                "big",
                inline={
                    f"p{i}": normalize(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": [f"s3:GetObjectVersion{j}{i}" for j in range(80)],
                                    "Resource": "*",
                                }
                            ],
                        }
                    )
                    for i in range(3)
                },
            ),
        },
        users={
            "jane.doe": UserState(
                "jane.doe",
                tags={**OWN, "team": "a b"},
                groups=frozenset({"devops", "yes"}),
                login_profile=True,
                access_keys=(AccessKey("AKIA1", True),),
            ),
            "machine": UserState(
                "machine",
                groups=frozenset({"devops", "theirs"}),
                login_profile=False,
                access_keys=(AccessKey("AKIA2", False),),
            ),
            "nokey": UserState(
                "nokey",
                path="/people/",
                login_profile=None,
                access_keys=None,
                attached=frozenset({"arn:aws:iam::aws:policy/B"}),
            ),
            "zeta-user": UserState("zeta-user", tags={OWNER_TAG: "zeta"}),
        },
        roles={"DevOps": role(tags=OWN)},
    )
    return ImportSource(
        origin="aws",
        description="a test organization",
        accounts=[
            SourceAccount(
                DEV,
                AccountState(
                    DEV,
                    alias="acme-corp-apps-devstg",
                    password_policy=POLICY,
                    roles={
                        "DevOps": role(),
                        "Vendor": RoleState("Vendor", trust=VENDOR),
                        "OrganizationAccountAccessRole": role(),
                        "AWSReservedSSO_x": role(path="/aws-reserved/sso.amazonaws.com/"),
                    },
                    users={"stray": UserState("stray")},
                ),
            ),
            SourceAccount(
                PRD,
                AccountState(
                    PRD,
                    alias="weird-alias",
                    password_policy=None,
                    roles={"DevOps": role(), "Reader": role(max_session_duration=7200)},
                ),
            ),
            SourceAccount(SEC, people),
            SourceAccount(
                MGMT,
                AccountState(
                    MGMT,
                    password_policy=PasswordPolicy(minimum_length=8, reuse_prevention=None),
                    roles={"Reader": role()},
                ),
                org_name="Acme Corp Root",
                management=True,
            ),
        ],
        region="eu-west-1",
        access_role="OrganizationAccountAccessRole",
        key_files={"jane.doe": b"x", "machine.infra": b"x"},
        user_keys={"jane.doe": "jane.doe", "machine": "machine.infra"},
    )


def test_an_organization_becomes_the_spec_that_names_what_exists(tmp_path: Path) -> None:
    spec, report = build_spec(organization(), tmp_path / "iamlayer.yaml")
    assert spec.project == "acme" and spec.project_long == "acme-corp"
    assert list(spec.accounts) == ["acme-corp-root", "security", "apps-devstg", "weird-alias"]
    assert spec.management_account == "acme-corp-root" and spec.people_account == "security"
    assert (
        spec.accounts["weird-alias"].alias == "weird-alias" and spec.accounts["acme-corp-root"].alias is None
    )
    assert spec.accounts["weird-alias"].password_policy is None
    # roles: the same definition in two accounts is one role; another definition of a name stays apart
    assert (
        spec.roles["DevOps"].accounts == ("security", "apps-devstg", "weird-alias")
        and spec.roles["DevOps"].mfa_max_age == 43200
    )
    assert (
        spec.roles["Reader"].accounts == ("acme-corp-root",)
        and spec.roles["Reader.weird-alias"].name == "Reader"
    )
    assert [(s.name, s.differences) for s in report.split_roles] == [("Reader", ("max_session_duration",))]
    # a role trusting another organization's account is not the layer's, unless asked for
    assert "Vendor" not in spec.roles
    why = "trusts no principal of the people account: it trusts arn:aws:iam::999999999999:root"
    assert report.roles_left_out == [("apps-devstg", "Vendor", why)]
    every, every_report = build_spec(
        organization(), tmp_path / "iamlayer.yaml", ImportOptions(all_roles=True)
    )
    assert every.roles["Vendor"].trust_policy == VENDOR and every_report.roles_left_out == []
    assert "apps-devstg/role/Vendor" in every_report.adopt
    assert "OrganizationAccountAccessRole" not in spec.roles and "AWSReservedSSO_x" not in spec.roles
    # groups: iamlayer's shapes recognised, the rest kept; no room for the marker: left out
    devops = spec.groups["devops"]
    assert (devops.assume, devops.self_management, devops.policies, devops.inline_policies) == (
        ("DevOps",),
        SelfManagement.ENFORCE_MFA,
        ("read",),
        {},
    )
    assert spec.groups["yes"].policies == ("theirs",) and spec.groups["yes"].inline_policies == {"extra": DOC}
    assert "big" not in spec.groups
    # users: keys known -> managed as they are; unknown -> credentials: keep; another project's: left out
    jane, machine, nokey = spec.users["jane.doe"], spec.users["machine"], spec.users["nokey"]
    assert (jane.console, jane.access_key, jane.tags, jane.groups) == (
        True,
        True,
        {"team": "a b"},
        ("devops", "yes"),
    )
    assert (machine.console, machine.access_key, machine.groups) == (False, False, ("devops",))
    assert nokey.keep_credentials and nokey.pgp_key is None and nokey.path == "/people/"
    assert "zeta-user" not in spec.users and "other-project" not in spec.policies
    assert (
        set(spec.policies) == {"read", "theirs"}
        and spec.policies["read"].description == 'Read: it\'s "quoted"'
    )
    assert spec.adopt and sorted(report.adopt) == [
        "acme-corp-root/role/Reader",
        "apps-devstg/role/DevOps",
        "security/group/yes",
        "security/policy/theirs",
        "security/user/machine",
        "security/user/nokey",
        "weird-alias/role/DevOps",
        "weird-alias/role/Reader",
    ]
    assert "security/group/big" not in report.adopt and "security/user/zeta-user" not in report.adopt
    found = {(f.where, f.what): f.why for f in report.findings}
    assert "no room for iamlayer's ownership marker" in found[("security", "group big")]
    assert "owned by iamlayer project 'zeta'" in found[("security", "user zeta-user")]
    assert "access_role" in found[("apps-devstg", "role OrganizationAccountAccessRole")]
    assert "reserved for AWS" in found[("apps-devstg", "role AWSReservedSSO_x")]
    assert "people account (security) only" in found[("apps-devstg", "1 user(s): stray")]
    assert "through groups only" in found[("security", "user nokey: policies arn:aws:iam::aws:policy/B")]
    assert "inactive access key(s) AKIA2" in " ".join(w for _, w in found)


def test_the_written_yaml_loads_back_as_the_built_spec(tmp_path: Path) -> None:
    write_key(tmp_path / "keys" / "jane.doe")
    write_key(tmp_path / "keys" / "machine.infra")
    spec, report = build_spec(organization(), tmp_path / "iamlayer.yaml")
    text = render_spec(spec, report, command="iamlayer import aws")
    (tmp_path / "iamlayer.yaml").write_text(text)
    assert load_spec(tmp_path / "iamlayer.yaml") == spec
    assert "  Reader.weird-alias:\n    accounts: [weird-alias]\n    name: Reader\n" in text
    assert 'weird-alias: {id: "100000000003", alias: weird-alias, password_policy: false}' in text
    assert (
        'acme-corp-root: {id: "100000000001", alias: false, password_policy: {minimum_length: 8, reuse_prevention: null}}'
        in text
    )
    assert '  nokey: {credentials: keep, path: "/people/"}' in text and "adopt: true" in text
    assert (
        '  jane.doe: {pgp_key: keys/jane.doe, groups: [devops, "yes"], access_key: true, tags: {team: "a b"}}'
        in text
    )


def test_options_decide_project_and_people_account(tmp_path: Path) -> None:
    source = organization()
    source.accounts[2].state.users = {}
    spec, _ = build_spec(source, tmp_path / "iamlayer.yaml", ImportOptions(people_account=SEC, project="x"))
    assert spec.people_account == "security" and spec.project == "x"
    for wanted in ("acme-corp-security", "security", SEC):  # alias, its end, id
        assert (
            build_spec(source, tmp_path / "s.yaml", ImportOptions(people_account=wanted))[0].people_account
            == "security"
        )
    with pytest.raises(Exception, match="not a valid project name"):
        build_spec(source, tmp_path / "iamlayer.yaml", ImportOptions(project="Not Valid"))
    with pytest.raises(Exception, match="people account 'nowhere' is not among the accounts read"):
        build_spec(source, tmp_path / "iamlayer.yaml", ImportOptions(people_account="nowhere"))


def test_account_choices_pick_organization_accounts_by_id_name_or_name_end() -> None:
    from iamlayer.aws.org import OrgAccount
    from iamlayer.importer.live import AccountChoice, pick_accounts

    choice = AccountChoice.parse(["security", "prd=123456789012", "100000000009"])
    assert choice.explicit == {"prd": "123456789012"} and choice.wanted == ("security", "100000000009")
    with pytest.raises(Exception, match="not a valid account name"):
        AccountChoice.parse(["bad name=123456789012"])
    found = [
        OrgAccount("100000000001", "Acme Corp Security", "a@x", "ACTIVE"),
        OrgAccount("100000000002", "acme-corp-apps-prd", "b@x", "ACTIVE"),
        OrgAccount("100000000003", "acme-corp-data-prd", "c@x", "ACTIVE"),
        OrgAccount("100000000009", "root", "d@x", "ACTIVE"),
    ]
    assert [a.id for a in pick_accounts(found, ["security", "apps-prd", "100000000009"])] == [
        "100000000001",
        "100000000002",
        "100000000009",
    ]
    with pytest.raises(Exception, match="--account prd names several accounts"):
        pick_accounts(found, ["prd"])
    with pytest.raises(Exception, match="--account nowhere is not in the organization"):
        pick_accounts(found, ["nowhere"])


def identity_center() -> IcSource:
    """An instance in the management account: acme's, someone's by hand, and project zeta's."""
    state = IcState(instance_arn="arn:aws:sso:::instance/ssoins-1111111111111111", identity_store_id="d-1")
    state.users = {
        "jane": IcUserState("jane", "u1", "Jane D", "Jane", "Doe", "jane@example.com", owner="acme"),
        "stranger": IcUserState("stranger", "u2", "S", "S", "T", "s@example.com"),
        "zed": IcUserState("zed", "u3", "Z", "Z", "Z", "z@example.com", owner="zeta"),
    }
    state.groups = {
        "devops": IcGroupState("devops", "g1", "DevOps team", "acme", {"jane": "m1", "stranger": "m2"}),
        "theirs": IcGroupState("theirs", "g2"),
    }
    inline = normalize(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}
    )
    state.permission_sets = {
        "DevOps": PermissionSetState(
            "DevOps", "arn:ps-1", "Full access", "acme", "PT4H", "https://console.aws.amazon.com/",
            frozenset({"arn:aws:iam::aws:policy/AdministratorAccess"}), frozenset({"/x/read"}), inline,
            "/x/read", True,
        ),
        "Audit": PermissionSetState(
            "Audit", "arn:ps-2", "", "acme", "PT1H30M", boundary="arn:aws:iam::aws:policy/PowerUserAccess",
            boundary_read=True,
        ),
        "Unread": PermissionSetState("Unread", "arn:ps-3", owner="acme", session_duration="PT1H"),
        "Bad": PermissionSetState("Bad", "arn:ps-4", owner="acme", customer_managed=frozenset({"/nope"}), boundary_read=True),
        "Hand": PermissionSetState("Hand", "arn:ps-5", boundary_read=True),
    }  # fmt: skip
    state.assignments = {
        AssignmentState("GROUP", "devops", "DevOps", PRD),
        AssignmentState("GROUP", "devops", "DevOps", DEV),
        AssignmentState("GROUP", "theirs", "DevOps", PRD),
        AssignmentState("USER", "jane", "Audit", SEC),
        AssignmentState("USER", "stranger", "Hand", SEC),
    }
    return IcSource(MGMT, "eu-west-1", state, {"Unread": "reading the permissions boundary: InternalFailure"})


def test_identity_center_is_imported_with_what_acme_owns_and_loads_back(tmp_path: Path) -> None:
    """Users, groups and members, permission sets (managed, customer-managed, inline, boundary,
    session, relay state) and assignments; the rest is left out or kept, each with why."""
    write_key(tmp_path / "keys" / "jane.doe")
    write_key(tmp_path / "keys" / "machine.infra")
    source = organization()
    source.identity_center = identity_center()
    spec, report = build_spec(source, tmp_path / "iamlayer.yaml")
    ic = spec.identity_center
    assert ic is not None and ic.account == "acme-corp-root" and ic.region == "eu-west-1"
    assert list(ic.users) == ["jane"] and ic.users["jane"].display_name == "Jane D"
    assert list(ic.groups) == ["devops"] and ic.groups["devops"].members == ("jane",)
    assert set(ic.permission_sets) == {"Audit", "DevOps", "Unread"}
    devops, audit, unread = (ic.permission_sets[n] for n in ("DevOps", "Audit", "Unread"))
    assert (
        devops.session_duration,
        devops.customer_managed_policies,
        devops.boundary,
        devops.relay_state,
    ) == (
        "PT4H",
        ("read",),
        "read",
        "https://console.aws.amazon.com/",
    )
    assert devops.boundary_managed and devops.inline_policy is not None
    assert (audit.session_duration, audit.boundary, audit.boundary_managed) == (
        "PT1H30M",
        "arn:aws:iam::aws:policy/PowerUserAccess",
        True,
    )
    assert (unread.boundary, unread.boundary_managed) == (None, False)  # left alone
    assert [(a.principal, a.permission_set, a.account) for a in ic.assignments] == [
        ("devops", "DevOps", "apps-devstg"),
        ("devops", "DevOps", "weird-alias"),
        ("jane", "Audit", "security"),
    ]
    assert report.counts["permission_sets"] == 3 and report.counts["ic_assignments"] == 3
    found = {(f.where, f.what): (f.kind, f.why) for f in report.findings}
    assert found[("identity center", "1 user(s) no iamlayer project made: stranger")][0] == "left_out"
    assert found[("identity center", "1 group(s) no iamlayer project made: theirs")][0] == "left_out"
    assert found[("identity center", "1 permission set(s) no iamlayer project made: Hand")][0] == "left_out"
    assert "owned by iamlayer project 'zeta'" in found[("identity center", "user zed")][1]
    assert "lacks (/nope)" in found[("identity center", "permission set Bad")][1]
    assert "InternalFailure" in found[("identity center", "permission set Unread: permissions boundary")][1]
    kept = found[
        ("identity center", "1 assignment(s) of imported permission sets: group/theirs DevOps@weird-alias")
    ]
    assert kept[0] == "kept"
    # The copies of `read` in the accounts DevOps is assigned in are the spec's, not "left out".
    assert not [w for w, what in found if "policy" in what and "read" in what and w == "apps-devstg"]

    text = render_spec(spec, report, command="iamlayer import aws")
    (tmp_path / "iamlayer.yaml").write_text(text)
    assert load_spec(tmp_path / "iamlayer.yaml") == spec
    assert "    - {group: devops, permission_sets: [DevOps], accounts: [apps-devstg, weird-alias]}\n" in text


def test_a_policy_left_in_a_member_account_is_named_in_plain_english(tmp_path: Path) -> None:
    """IMPORT.md said "iamlayer keeps policys in the people account" (issue 18 P3)."""
    source = organization()
    [dev] = [a for a in source.accounts if a.id == DEV]
    dev.state.policies["stray-policy"] = PolicyState(
        "stray-policy", arn=f"arn:aws:iam::{DEV}:policy/stray-policy"
    )
    _, report = build_spec(source, tmp_path / "iamlayer.yaml")
    found = {(f.where, f.what): f.why for f in report.findings}
    why = found[("apps-devstg", "1 policy(s): stray-policy")]
    assert "iamlayer keeps policies in the people account (security) only" in why and "policys" not in why


def test_an_instance_an_identity_provider_provisions_is_imported_as_an_external_source(
    tmp_path: Path,
) -> None:
    """Users and groups with ExternalIds (SCIM): `identity_source: external`, the principals the
    imported permission sets are assigned to by name only, their assignments imported."""
    write_key(tmp_path / "keys" / "jane.doe")
    write_key(tmp_path / "keys" / "machine.infra")
    source = organization()
    source.identity_center = identity_center()
    for found in (
        *source.identity_center.state.users.values(),
        *source.identity_center.state.groups.values(),
    ):
        found.external = True
    spec, report = build_spec(source, tmp_path / "iamlayer.yaml")
    ic = spec.identity_center
    assert ic is not None and ic.identity_source == "external"
    assert ic.external("USER") == {"jane": None} and list(ic.external("GROUP")) == ["devops", "theirs"]
    assert [(a.principal, a.permission_set, a.account) for a in ic.assignments] == [
        ("devops", "DevOps", "apps-devstg"),
        ("devops", "DevOps", "weird-alias"),
        ("theirs", "DevOps", "weird-alias"),
        ("jane", "Audit", "security"),
    ]
    assert any(f.what == "the identity store" and "ExternalIds" in f.why for f in report.findings)
    text = render_spec(spec, report, command="iamlayer import aws")
    assert "  identity_source: external" in text and "    theirs: {}\n" in text
    (tmp_path / "iamlayer.yaml").write_text(text)
    assert load_spec(tmp_path / "iamlayer.yaml") == spec


def test_entitlements_of_the_account_access_manager_are_written_as_roles_entitled(tmp_path: Path) -> None:
    """Issue 24 item 4: an entitlement of an imported principal to an imported role in every
    account of the role is `roles.<Role>.entitled:`, and the role's trust renders back exactly as
    it was (its account-access statement comes from `entitled:`); one in some accounts only, or
    to a role or principal not imported, is kept as it is."""
    write_key(tmp_path / "keys" / "jane.doe")
    write_key(tmp_path / "keys" / "machine.infra")
    source = organization()
    trust = normalize({**TRUST, "Statement": [*TRUST["Statement"], ACCOUNT_ACCESS_TRUST]})
    for acc in source.accounts:
        if "DevOps" in acc.state.roles:
            # iamlayer tags the roles it makes (a role trusting a service would not be taken as the layer's)
            acc.state.roles["DevOps"] = replace(acc.state.roles["DevOps"], trust=trust, tags=OWN)
    source.identity_center = identity_center()
    arns = {a: f"arn:aws:iam::{a}:role/DevOps" for a in (SEC, PRD, DEV)}
    source.identity_center.state.entitlements = {
        *(EntitlementState(arn, "GROUP", "devops") for arn in arns.values()),
        EntitlementState(arns[PRD], "USER", "jane"),  # one account of three
        EntitlementState(arns[PRD], "USER", "stranger"),  # not imported
        EntitlementState(
            f"arn:aws:iam::{PRD}:role/Reader", "GROUP", "devops"
        ),  # Reader: not entitled elsewhere
    }
    spec, report = build_spec(source, tmp_path / "iamlayer.yaml")
    devops = spec.roles["DevOps"]
    assert devops.entitled == ("group/devops",)
    assert trust_policy(spec, devops) == trust  # nothing for the first plan to change
    kept = {f.what for f in report.findings if f.kind == "kept" and "entitlement" in f.what}
    assert f"entitlement of user/jane to role DevOps in {spec_name(spec, PRD)}" in kept
    assert f"entitlement of user/stranger to {arns[PRD]}" in kept
    assert (
        spec.roles["Reader.weird-alias"].entitled == ("group/devops",) and not spec.roles["Reader"].entitled
    )
    text = render_spec(spec, report, command="iamlayer import aws")
    assert "    entitled: [group/devops]\n" in text
    (tmp_path / "iamlayer.yaml").write_text(text)
    assert load_spec(tmp_path / "iamlayer.yaml") == spec


def spec_name(spec: Spec, account_id: str) -> str:
    return next(n for n, a in spec.accounts.items() if a.id == account_id)
