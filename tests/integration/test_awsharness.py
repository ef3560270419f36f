"""Self-tests of the realistic-AWS harness (tests/awsharness.py): plain boto3, over HTTP, through the
harness, to the emulator. Each switch is shown to do what its docstring says, and each test has a
control (the switch off, or a client that does not cope) so that it can fail.

Every test works in account ids of its own (tests/layer.py), reached by AssumeRole through the
harness, so the harness learns the account of each key as it does for iamlayer. Setup writes go to
the emulator directly (quicker, and out of the harness's record).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.parsers import ResponseParserError

from awsharness import (
    DEFAULT_ACCOUNT,
    AwsHarness,
    Dependents,
    Expire,
    Fault,
    IcAsync,
    IcConflict,
    Lag,
    Lose,
    Pages,
    Rule,
    StaleReport,
    StoreLag,
    Throttle,
)
from emulator_policies import TEST_MANAGED_POLICIES
from iamlayer.sandbox.emulator import Emulator, start_emulator
from layer import fresh_account_ids

pytestmark = pytest.mark.proof  # a long proof: `make proof`

REGION = "us-east-1"
ROOT = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})
LAG = 2.0  # seconds; generous, as the machine may be loaded
DOC = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}'
SRC = Path(__file__).resolve().parents[2] / "src" / "iamlayer"


@pytest.fixture
def emu(emulator: Emulator, aws_env: dict[str, str]) -> Emulator:
    """The shared emulator, with the environment isolated from ~/.aws (aws_env)."""
    return emulator


@pytest.fixture
def harness(emu: Emulator) -> Iterator[AwsHarness]:
    with AwsHarness(emu.url, seed=7) as h:
        yield h


def creds_in(url: str, account: str) -> dict[str, str]:
    """Credentials for `account` from AssumeRole at `url` (the harness, so it maps the key)."""
    sts = boto3.client("sts", endpoint_url=url, **ROOT)  # type: ignore[call-overload]
    c = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="harness-tests"
    )["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


def client(service: str, url: str, creds: dict[str, str], config: Config | None = None) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=REGION, config=config, **creds)  # type: ignore[call-overload]


def member(
    harness: AwsHarness, emu: Emulator, service: str = "iam", config: Config | None = None
) -> tuple[str, Any, Any]:
    """(a fresh account id, a client in it through the harness, the same client straight to the emulator)."""
    [account] = fresh_account_ids(1)
    creds = creds_in(harness.url, account)
    return account, client(service, harness.url, creds, config), client(service, emu.url, creds)


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


# -- AWS page sizes -------------------------------------------------------------------------------


def test_250_users_come_in_pages_of_100_and_max_items_is_honoured(harness: AwsHarness, emu: Emulator) -> None:
    account, iam, raw = member(harness, emu)
    for i in range(250):
        raw.create_user(UserName=f"user{i:03d}")
    # control: the emulator answers everything in one page
    assert len(iam.list_users()["Users"]) == 250 and harness.count("ListUsers", account=account) == 1

    harness.pages = Pages()
    pages = list(iam.get_paginator("list_users").paginate())
    assert [len(p["Users"]) for p in pages] == [100, 100, 50]
    assert [p["IsTruncated"] for p in pages] == [True, True, False]
    assert [u["UserName"] for p in pages for u in p["Users"]] == [f"user{i:03d}" for i in range(250)]
    assert harness.count("ListUsers", account=account) == 1 + 3

    first = iam.list_users(MaxItems=10)
    assert len(first["Users"]) == 10 and first["IsTruncated"]
    marker = first["Marker"]
    assert "user" not in marker  # opaque
    second = iam.list_users(MaxItems=10, Marker=marker)
    assert [u["UserName"] for u in second["Users"]] == [f"user{i:03d}" for i in range(10, 20)]
    last = iam.list_users(MaxItems=1000, Marker=second["Marker"])
    assert len(last["Users"]) == 230 and not last["IsTruncated"] and "Marker" not in last


def test_page_size_limits_and_foreign_markers_are_refused(harness: AwsHarness, emu: Emulator) -> None:
    harness.pages = Pages()
    _, iam, raw = member(harness, emu)
    for i in range(3):
        raw.create_group(GroupName=f"g{i}")
    with pytest.raises(ClientError) as exc:
        iam.list_users(MaxItems=1001)  # botocore itself refuses 0
    assert code(exc) == "ValidationError"
    groups_marker = iam.list_groups(MaxItems=1)["Marker"]
    with pytest.raises(ClientError) as exc:
        iam.list_users(Marker=groups_marker)  # a marker belongs to its own listing
    assert code(exc) == "ValidationError"
    assert harness.count(fault=Fault.BAD_PAGE) == 2


def test_account_authorization_details_pages_across_its_lists(harness: AwsHarness, emu: Emulator) -> None:
    _, iam, raw = member(harness, emu)
    for i in range(150):
        raw.create_user(UserName=f"u{i:03d}")
    for i in range(30):
        raw.create_group(GroupName=f"g{i:02d}")
    for i in range(40):
        raw.create_role(RoleName=f"r{i:02d}", AssumeRolePolicyDocument="{}")
    for i in range(5):
        raw.create_policy(PolicyName=f"p{i}", PolicyDocument=DOC)
    lists = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
    filters = ["User", "Group", "Role", "LocalManagedPolicy"]
    whole = raw.get_account_authorization_details(Filter=filters)

    harness.pages = Pages()
    pages = list(iam.get_paginator("get_account_authorization_details").paginate(Filter=filters))
    sizes = [tuple(len(p[k]) for k in lists) for p in pages]
    # 225 entries, 100 to a page whatever list they are in: users, then groups, roles, policies
    assert sizes == [(100, 0, 0, 0), (50, 30, 20, 0), (0, 0, len(whole["RoleDetailList"]) - 20, 5)]
    for k in lists:
        assert sorted(e["Arn"] for p in pages for e in p[k]) == sorted(e["Arn"] for e in whole[k])
    small = list(
        iam.get_paginator("get_account_authorization_details").paginate(
            Filter=filters, PaginationConfig={"PageSize": 1000}
        )
    )
    assert len(small) == 1 and sum(len(small[0][k]) for k in lists) == sum(len(whole[k]) for k in lists)


def _certificate(serial: int) -> str:
    """A self-signed X.509 certificate in PEM (the emulator parses signing certificates)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, f"harness-{serial}")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial + 1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _populate_for_every_list(account: str, raw: Any) -> dict[str, dict[str, Any]]:
    """Everything a paginated IAM call lists, at least 2 of each, straight in the emulator.
    Returns the call parameters per operation."""
    doc = DOC
    raw.create_user(UserName="u", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(5)])
    raw.create_role(
        RoleName="r", AssumeRolePolicyDocument="{}", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(5)]
    )
    raw.create_group(GroupName="g")
    arns = [raw.create_policy(PolicyName=f"p{i}", PolicyDocument=doc)["Policy"]["Arn"] for i in range(4)]
    raw.tag_policy(PolicyArn=arns[0], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(5)])
    for i in range(3):
        raw.create_policy_version(PolicyArn=arns[0], PolicyDocument=doc, SetAsDefault=False)
        raw.create_user(UserName=f"m{i}")
        raw.add_user_to_group(GroupName="g", UserName=f"m{i}")
        raw.create_group(GroupName=f"h{i}")
        raw.add_user_to_group(GroupName=f"h{i}", UserName="u")
        raw.create_role(RoleName=f"s{i}", AssumeRolePolicyDocument="{}")
        raw.attach_role_policy(RoleName=f"s{i}", PolicyArn=arns[1])
        for kind, name in (("user", "u"), ("group", "g"), ("role", "r")):
            getattr(raw, f"attach_{kind}_policy")(**{f"{kind.title()}Name": name, "PolicyArn": arns[i + 1]})
            getattr(raw, f"put_{kind}_policy")(
                **{f"{kind.title()}Name": name, "PolicyName": f"i{i}", "PolicyDocument": doc}
            )
        raw.create_instance_profile(InstanceProfileName=f"ip{i}")
        raw.add_role_to_instance_profile(InstanceProfileName=f"ip{i}", RoleName="r")
        raw.create_virtual_mfa_device(VirtualMFADeviceName=f"mfa{i}")
        raw.upload_server_certificate(ServerCertificateName=f"c{i}", CertificateBody="x", PrivateKey="y")
        raw.upload_ssh_public_key(UserName="u", SSHPublicKeyBody=f"ssh-rsa AAAAB3NzaC1yc2E{i} u@h")
    for i in range(2):  # AWS allows 2 of each per user
        raw.create_access_key(UserName="u")
        raw.upload_signing_certificate(UserName="u", CertificateBody=_certificate(i))
        serial = f"arn:aws:iam::{account}:mfa/mfa{i}"
        raw.enable_mfa_device(
            UserName="u", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
    raw.create_account_alias(AccountAlias="harness-alias")
    return {
        "GetAccountAuthorizationDetails": {"Filter": ["User", "Group", "Role", "LocalManagedPolicy"]},
        "GetGroup": {"GroupName": "g"},
        "ListAccessKeys": {"UserName": "u"},
        "ListAccountAliases": {},
        "ListAttachedGroupPolicies": {"GroupName": "g"},
        "ListAttachedRolePolicies": {"RoleName": "r"},
        "ListAttachedUserPolicies": {"UserName": "u"},
        "ListEntitiesForPolicy": {"PolicyArn": arns[1]},
        "ListGroupPolicies": {"GroupName": "g"},
        "ListGroups": {},
        "ListGroupsForUser": {"UserName": "u"},
        "ListInstanceProfilesForRole": {"RoleName": "r"},
        "ListMFADevices": {"UserName": "u"},
        "ListPolicies": {"Scope": "Local"},
        "ListPolicyTags": {"PolicyArn": arns[0]},
        "ListPolicyVersions": {"PolicyArn": arns[0]},
        "ListRolePolicies": {"RoleName": "r"},
        "ListRoleTags": {"RoleName": "r"},
        "ListRoles": {},
        "ListServerCertificates": {},
        "ListSigningCertificates": {"UserName": "u"},
        "ListSSHPublicKeys": {"UserName": "u"},
        "ListUserPolicies": {"UserName": "u"},
        "ListUserTags": {"UserName": "u"},
        "ListUsers": {},
        "ListVirtualMFADevices": {},
    }


def _src_paginated_calls() -> set[str]:
    """The paginated IAM operations iamlayer's source calls, paginated or not (a first-page-only read
    is exactly what AWS page sizes expose)."""
    text = "\n".join(p.read_text() for p in SRC.rglob("*.py"))
    return {op for op in AwsHarness.IAM_PAGES if re.search(rf"[.\"']{xform_name(op)}[\"'(]", text)}


def test_every_paginated_call_iamlayer_makes_is_paged(harness: AwsHarness, emu: Emulator) -> None:
    """Pages of 1 for every paginated IAM call in iamlayer's source: same items as the emulator's
    whole answer, one page per item. A new paginated call in src/ must be added here."""
    account, iam, raw = member(harness, emu)
    calls = _populate_for_every_list(account, raw)
    assert _src_paginated_calls() - set(calls) == set(), "add the new paginated call to this test"
    harness.pages = Pages()
    mismatches = {}
    for op, params in calls.items():
        model = AwsHarness.IAM_PAGES[op]
        method = xform_name(op)
        whole = getattr(raw, method)(
            **params, **({"MaxItems": 1000} if op != "GetAccountAuthorizationDetails" else {})
        )
        pages = list(iam.get_paginator(method).paginate(**params, PaginationConfig={"PageSize": 1}))
        got = [x for p in pages for k in model.result_keys for x in p.get(k, [])]
        want = [x for k in model.result_keys for x in whole.get(k, [])]
        enough = len(want) >= (1 if op == "ListAccountAliases" else 2)  # an account has one alias
        if not enough or len(pages) != len(want) or sorted(map(repr, got)) != sorted(map(repr, want)):
            mismatches[op] = (len(pages), len(got), len(want))
    assert mismatches == {}
    assert iam.get_group(GroupName="g")["Group"]["GroupName"] == "g"  # the non-aggregate key stays


def test_large_group_policy_and_role_list_default_to_pages_of_100(harness: AwsHarness, emu: Emulator) -> None:
    """The lists iamlayer's delete handlers and reads rely on, at sizes AWS pages (issue 10 item 6)."""
    _, iam, raw = member(harness, emu)
    arn = raw.create_policy(PolicyName="wide", PolicyDocument=DOC)["Policy"]["Arn"]
    raw.create_group(GroupName="big")
    for i in range(150):
        raw.create_user(UserName=f"u{i:03d}")
        raw.add_user_to_group(GroupName="big", UserName=f"u{i:03d}")
        raw.attach_user_policy(UserName=f"u{i:03d}", PolicyArn=arn)
    for i in range(120):
        raw.create_role(RoleName=f"r{i:03d}", AssumeRolePolicyDocument="{}")
        raw.attach_role_policy(RoleName=f"r{i:03d}", PolicyArn=arn)
    harness.pages = Pages()
    assert len(iam.get_group(GroupName="big")["Users"]) == 100  # the first page only
    assert [len(p["Users"]) for p in iam.get_paginator("get_group").paginate(GroupName="big")] == [100, 50]
    first = iam.list_entities_for_policy(PolicyArn=arn)
    assert (len(first["PolicyUsers"]), len(first["PolicyRoles"]), first["IsTruncated"]) == (100, 0, True)
    pages = list(iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=arn))
    assert [(len(p["PolicyGroups"]), len(p["PolicyUsers"]), len(p["PolicyRoles"])) for p in pages] == [
        (0, 100, 0),
        (0, 50, 50),
        (0, 0, 70),
    ]
    # moto pages roles at 100 by itself, with its own markers: the harness replaces them
    assert [len(p["Roles"]) for p in iam.get_paginator("list_roles").paginate()] == [100, 20]


def test_organizations_list_accounts_pages_of_20(aws_env: dict[str, str], tmp_path: Path) -> None:
    """In an emulator of its own: every account an organization creates makes moto slower for each
    later request signed with a key it does not know (it builds every account's IAM backends)."""
    own = start_emulator(log_path=tmp_path / "moto.log", managed_policies=TEST_MANAGED_POLICIES)
    try:
        with AwsHarness(own.url, seed=7) as harness:
            account, org, _ = member(harness, own, "organizations")
            org.create_organization(FeatureSet="ALL")
            for i in range(22):
                org.create_account(Email=f"a{i}@example.com", AccountName=f"a{i}")
            assert len(org.list_accounts()["Accounts"]) == 23  # control: one page
            harness.pages = Pages()
            pages = list(org.get_paginator("list_accounts").paginate())
            assert [len(p["Accounts"]) for p in pages] == [20, 3]
            assert len({a["Id"] for p in pages for a in p["Accounts"]}) == 23
            five = org.list_accounts(MaxResults=5)
            assert len(five["Accounts"]) == 5 and five["NextToken"]
            rest = org.list_accounts(MaxResults=20, NextToken=five["NextToken"])
            assert len(rest["Accounts"]) == 18 and "NextToken" not in rest
            with pytest.raises(ClientError) as exc:
                org.list_accounts(MaxResults=21)
            assert code(exc) == "InvalidInputException"
            assert {c.account for c in harness.calls if c.service == "organizations"} == {account}
    finally:
        own.stop()


# -- delete conflicts -----------------------------------------------------------------------------


def test_aws_refuses_to_delete_what_still_has_dependents(harness: AwsHarness, emu: Emulator) -> None:
    _, iam, raw = member(harness, emu, config=NO_RETRY)
    arn = raw.create_policy(PolicyName="p", PolicyDocument=DOC)["Policy"]["Arn"]
    for g in ("loose", "devops"):
        raw.create_group(GroupName=g)
        raw.create_user(UserName=f"{g}-user")
        raw.add_user_to_group(GroupName=g, UserName=f"{g}-user")
    raw.attach_group_policy(GroupName="devops", PolicyArn=arn)
    raw.create_access_key(UserName="devops-user")
    iam.delete_group(GroupName="loose")  # control: the emulator deletes a group with members

    harness.dependents = Dependents()
    for call, message in (
        (lambda: iam.delete_group(GroupName="devops"), "must remove users from group first"),
        (lambda: iam.delete_policy(PolicyArn=arn), "attached to entities"),
        (lambda: iam.delete_user(UserName="devops-user"), "must remove user from all groups first"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "DeleteConflict" and message in str(exc.value)
    iam.remove_user_from_group(GroupName="devops", UserName="devops-user")
    with pytest.raises(ClientError, match="must detach all policies first"):
        iam.delete_group(GroupName="devops")
    with pytest.raises(ClientError, match="must delete access keys first"):
        iam.delete_user(UserName="devops-user")
    iam.detach_group_policy(GroupName="devops", PolicyArn=arn)
    iam.delete_group(GroupName="devops")
    iam.delete_policy(PolicyArn=arn)
    assert harness.count(fault=Fault.DEPENDENTS) == 5


def test_a_large_group_read_one_page_deep_cannot_be_deleted(harness: AwsHarness, emu: Emulator) -> None:
    """Issue 10 item 6 with plain boto3: under AWS page sizes, removing the members of the first
    GetGroup page leaves 50 of 150, and AWS refuses the delete; reading every page works."""
    harness.pages, harness.dependents = Pages(), Dependents()
    _, iam, raw = member(harness, emu, config=NO_RETRY)
    for g in ("one-page", "every-page"):
        raw.create_group(GroupName=g)
        for i in range(150):
            if g == "one-page":
                raw.create_user(UserName=f"u{i:03d}")
            raw.add_user_to_group(GroupName=g, UserName=f"u{i:03d}")
    for u in iam.get_group(GroupName="one-page")["Users"]:
        iam.remove_user_from_group(GroupName="one-page", UserName=u["UserName"])
    with pytest.raises(ClientError, match="must remove users from group first"):
        iam.delete_group(GroupName="one-page")
    assert len(raw.get_group(GroupName="one-page")["Users"]) == 50
    for page in iam.get_paginator("get_group").paginate(GroupName="every-page"):
        for u in page["Users"]:
            iam.remove_user_from_group(GroupName="every-page", UserName=u["UserName"])
    iam.delete_group(GroupName="every-page")


# -- read-after-write lag -------------------------------------------------------------------------


def test_a_re_read_right_after_create_user_sees_the_state_before(harness: AwsHarness, emu: Emulator) -> None:
    account, iam, _ = member(harness, emu, config=NO_RETRY)
    other, iam_b, raw_b = member(harness, emu, config=NO_RETRY)
    assert iam.list_users()["Users"] == []
    iam.create_user(UserName="jane")
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["jane"]  # control: no lag yet

    raw_b.create_user(UserName="zed")
    harness.lag = Lag(LAG)
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["jane"]  # recorded, as every read is
    t0 = time.monotonic()
    iam.create_user(UserName="john")
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["jane"]
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName="john")
    assert code(exc) == "NoSuchEntity"
    # another account's reads are not lagged by this account's writes
    assert [u["UserName"] for u in iam_b.list_users()["Users"]] == ["zed"]
    assert time.monotonic() - t0 < LAG, "too slow to observe the lag"
    assert iam.get_user(UserName="jane")["User"]["UserName"] == "jane"

    time.sleep(LAG)
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["jane", "john"]
    assert iam.get_user(UserName="john")["User"]["UserName"] == "john"
    assert harness.count(account=account, fault=Fault.STALE) == 1
    assert harness.count(account=account, fault=Fault.LAG_NOT_FOUND) == 1
    assert harness.count(account=other, fault=[Fault.STALE, Fault.LAG_NOT_FOUND]) == 0


def test_writes_naming_a_new_entity_answer_no_such_entity_and_are_not_applied(
    harness: AwsHarness, emu: Emulator
) -> None:
    harness.lag = Lag(LAG)
    _, iam, raw = member(harness, emu, config=NO_RETRY)
    iam.create_group(GroupName="devops")
    iam.create_user(UserName="jane")
    with pytest.raises(ClientError) as exc:
        iam.add_user_to_group(GroupName="devops", UserName="jane")
    assert code(exc) == "NoSuchEntity"
    arn = iam.create_policy(PolicyName="p", PolicyDocument=DOC)["Policy"]["Arn"]
    with pytest.raises(ClientError) as exc:
        iam.attach_group_policy(GroupName="devops", PolicyArn=arn)
    assert code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName="jane", Password="Aa1!" * 8)
    assert code(exc) == "NoSuchEntity"
    assert raw.get_group(GroupName="devops")["Users"] == []  # not applied
    assert raw.list_attached_group_policies(GroupName="devops")["AttachedPolicies"] == []

    time.sleep(LAG)
    iam.add_user_to_group(GroupName="devops", UserName="jane")
    iam.attach_group_policy(GroupName="devops", PolicyArn=arn)
    assert [u["UserName"] for u in raw.get_group(GroupName="devops")["Users"]] == ["jane"]

    harness.lag = Lag(LAG, refer_share=0.0)  # control: the switch decides
    iam.create_group(GroupName="auditors")
    iam.add_user_to_group(GroupName="auditors", UserName="jane")


def test_delete_right_after_detaching_answers_delete_conflict(harness: AwsHarness, emu: Emulator) -> None:
    _, iam, raw = member(harness, emu, config=NO_RETRY)
    arn = raw.create_policy(PolicyName="p", PolicyDocument=DOC)["Policy"]["Arn"]
    for g in ("devops", "finops"):
        raw.create_group(GroupName=g)
    raw.create_user(UserName="jane")
    raw.add_user_to_group(GroupName="devops", UserName="jane")
    raw.attach_group_policy(GroupName="finops", PolicyArn=arn)

    harness.lag = Lag(LAG)
    iam.remove_user_from_group(GroupName="devops", UserName="jane")
    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName="devops")
    assert code(exc) == "DeleteConflict" and exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    iam.detach_group_policy(GroupName="finops", PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert code(exc) == "DeleteConflict"
    assert {g["GroupName"] for g in raw.list_groups()["Groups"]} == {"devops", "finops"}  # not applied

    time.sleep(LAG)
    iam.delete_group(GroupName="devops")
    iam.delete_policy(PolicyArn=arn)

    harness.lag = Lag(LAG, delete_conflict=False)  # control: the switch decides
    raw.add_user_to_group(GroupName="finops", UserName="jane")
    iam.remove_user_from_group(GroupName="finops", UserName="jane")
    iam.delete_user(UserName="jane")
    assert harness.count(fault=Fault.LAG_DELETE_CONFLICT) == 2


def test_the_credential_report_lags_and_can_be_hours_old(harness: AwsHarness, emu: Emulator) -> None:
    def report_users(iam: Any) -> list[str]:
        while iam.generate_credential_report()["State"] != "COMPLETE":
            time.sleep(0.1)
        text = iam.get_credential_report()["Content"].decode()
        return sorted(line.split(",")[0] for line in text.splitlines()[1:])

    harness.lag = Lag(LAG)
    _, iam, _ = member(harness, emu, config=NO_RETRY)
    iam.create_user(UserName="jane")
    time.sleep(LAG)
    assert report_users(iam) == ["jane"]
    iam.create_user(UserName="john")
    assert report_users(iam) == ["jane"]
    time.sleep(LAG)
    assert report_users(iam) == ["jane", "john"]

    harness.lag, harness.stale_report = None, StaleReport(3600)  # AWS's 4 hours, shortened
    _, iam2, _ = member(harness, emu, config=NO_RETRY)
    iam2.create_user(UserName="ann")
    assert report_users(iam2) == ["ann"]
    iam2.create_user(UserName="bob")
    assert report_users(iam2) == ["ann"]  # no lag now: the report is an hour old at most
    assert harness.count("GetCredentialReport", fault=Fault.REPORT_CACHED) == 1


def test_a_new_role_is_not_assumable_during_the_lag(harness: AwsHarness, emu: Emulator) -> None:
    account, iam, _ = member(harness, emu)
    harness.lag = Lag(LAG)
    iam.create_role(RoleName="DevOps", AssumeRolePolicyDocument="{}")
    sts = boto3.client("sts", endpoint_url=harness.url, config=NO_RETRY, **ROOT)  # type: ignore[call-overload]
    role_arn = f"arn:aws:iam::{account}:role/DevOps"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="too-soon")
    assert code(exc) == "AccessDenied"
    time.sleep(LAG)
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="later")["AssumedRoleUser"]["Arn"].startswith(
        f"arn:aws:sts::{account}:assumed-role/DevOps/"
    )


# -- lost responses -------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["500", "drop"])
def test_a_lost_create_access_key_answer_makes_botocore_create_a_second_key(
    harness: AwsHarness, emu: Emulator, how: str
) -> None:
    """Issue 10 item 2, with plain boto3: botocore retries a create whose first attempt went
    through, and the first key's secret is held by nobody."""
    account, iam, raw = member(harness, emu)  # botocore's default retries
    raw.create_user(UserName="machine.ci")
    harness.lose = Lose(actions=frozenset({"CreateAccessKey"}), how=how, times=1)
    got = iam.create_access_key(UserName="machine.ci")["AccessKey"]["AccessKeyId"]
    live = {k["AccessKeyId"] for k in raw.list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]}
    [lost] = harness.lost
    orphan = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", lost.upstream)
    assert orphan is not None and live == {got, orphan.group(1)} and got != orphan.group(1)
    assert lost.fault == (Fault.LOST_500 if how == "500" else Fault.LOST_DROP) and lost.applied
    assert lost.account == account and lost.status == (500 if how == "500" else 0)
    assert harness.count("CreateAccessKey") == 2

    # without a retry the caller learns nothing, yet the key exists: the outcome is unknown
    raw.create_user(UserName="other")
    harness.lose = Lose(actions=frozenset({"CreateAccessKey"}), how=how, times=1)
    once = client("iam", harness.url, creds_in(harness.url, account), NO_RETRY)
    with pytest.raises(ClientError if how == "500" else ConnectionClosedError):
        once.create_access_key(UserName="other")
    assert len(raw.list_access_keys(UserName="other")["AccessKeyMetadata"]) == 1


def _lost_users(seed: int, harness: AwsHarness, emu: Emulator) -> tuple[set[str], Any]:
    harness.reseed(seed)
    harness.lose = Lose(share=0.3)
    _, iam, raw = member(harness, emu, config=NO_RETRY)
    failed = set()
    for i in range(20):
        try:
            iam.create_user(UserName=f"u{i:02d}")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "InternalFailure"
            failed.add(f"u{i:02d}")
    return failed, raw


def test_a_seeded_share_of_writes_loses_its_answer(harness: AwsHarness, emu: Emulator) -> None:
    first, raw = _lost_users(1, harness, emu)
    assert 2 <= len(first) <= 12
    assert len(raw.list_users()["Users"]) == 20  # every lost write was applied
    assert {c.params["UserName"] for c in harness.lost if c.action == "CreateUser"} == first
    again, _ = _lost_users(1, harness, emu)
    other, _ = _lost_users(2, harness, emu)
    assert again == first and other != first


# -- rules, labels and sessions (the old fault proxy's part) -------------------------------------


def test_rules_answer_as_aws_and_the_record_keeps_labels_and_mfa_sessions(
    harness: AwsHarness, emu: Emulator
) -> None:
    """`error`, `expired` and `applied_then_500` rules; each call carries the test's label; the
    sessions learned from GetSessionToken say whether MFA was used, and a role session assumed with
    an MFA session inherits it. Controls: the same calls without a rule, a session without MFA."""
    account, iam, raw = member(harness, emu, config=NO_RETRY)
    raw.create_user(UserName="u")
    harness.label = "rules"
    harness.add(Rule("CreateGroup", "error", code="LimitExceeded", message="too many", status=409, times=1))
    with pytest.raises(ClientError) as exc:
        iam.create_group(GroupName="g")
    assert code(exc) == "LimitExceeded" and exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "g" not in {g["GroupName"] for g in raw.list_groups()["Groups"]}  # not forwarded
    iam.create_group(GroupName="g")  # control: the rule was used up

    harness.add(Rule("ListGroups", "expired", times=1))
    with pytest.raises(ClientError) as exc:
        iam.list_groups()
    assert code(exc) == "ExpiredToken" and iam.list_groups()["Groups"]

    harness.add(Rule("CreateAccessKey", "applied_then_500", times=1))
    with pytest.raises(ClientError) as exc:
        iam.create_access_key(UserName="u")
    assert code(exc) == "InternalFailure"
    [lost] = harness.lost
    made = raw.list_access_keys(UserName="u")["AccessKeyMetadata"]
    assert lost.fault == "rule:applied_then_500" and [k["AccessKeyId"] for k in made] == [
        re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", lost.upstream).group(1)  # type: ignore[union-attr]
    ]
    assert {c.label for c in harness.calls if c.account == account and c.service == "iam"} == {"rules"}
    assert [c.fault for c in harness.calls if c.action == "CreateGroup"] == ["rule:error", ""]

    # sessions: a user's key, then GetSessionToken without and with MFA, then a role from the MFA
    # one (the emulator hands out one fixed key for every GetSessionToken: each is checked at once)
    secret = raw.create_access_key(UserName="u")["AccessKey"]
    user = {"aws_access_key_id": secret["AccessKeyId"], "aws_secret_access_key": secret["SecretAccessKey"]}
    sts = client("sts", harness.url, user)
    plain = harness.sessions[sts.get_session_token()["Credentials"]["AccessKeyId"]]
    assert (plain.mfa, plain.mfa_time, plain.signer) == (False, None, secret["AccessKeyId"])
    c = sts.get_session_token(SerialNumber=f"arn:aws:iam::{account}:mfa/u", TokenCode="123456")["Credentials"]
    with_mfa = harness.sessions[c["AccessKeyId"]]
    assert with_mfa.mfa and with_mfa.via == "GetSessionToken" and with_mfa.mfa_time is not None
    session_creds = {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }
    role = client("sts", harness.url, session_creds).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="mfa-session"
    )
    s_role = harness.sessions[role["Credentials"]["AccessKeyId"]]
    assert (s_role.mfa, s_role.mfa_time, s_role.signer) == (True, with_mfa.mfa_time, c["AccessKeyId"])
    assert s_role.arn == role["AssumedRoleUser"]["Arn"]


def test_an_api_the_emulator_lacks_is_answered_as_aws_would(harness: AwsHarness, emu: Emulator) -> None:
    """ListServiceSpecificCredentials: moto answers an HTML error page (the control); the harness
    lists none for a user (the emulator cannot make them) and NoSuchEntity for a missing user."""
    _, iam, raw = member(harness, emu)
    raw.create_user(UserName="u")
    with pytest.raises(ResponseParserError):
        raw.list_service_specific_credentials(UserName="u")
    assert iam.list_service_specific_credentials(UserName="u")["ServiceSpecificCredentials"] == []
    with pytest.raises(ClientError) as exc:
        iam.list_service_specific_credentials(UserName="nobody")
    assert code(exc) == "NoSuchEntity"
    assert harness.count("ListServiceSpecificCredentials", fault=Fault.EMULATED) == 2


# -- throttling -----------------------------------------------------------------------------------


def test_twenty_percent_throttling_makes_adaptive_retries_work_harder_but_succeed(
    harness: AwsHarness, emu: Emulator
) -> None:
    account, iam, raw = member(harness, emu, config=Config(retries={"mode": "adaptive", "max_attempts": 10}))
    raw.create_user(UserName="jane")
    harness.throttle = Throttle(0.2)
    for _ in range(30):
        assert iam.get_user(UserName="jane")["User"]["UserName"] == "jane"
    sts = boto3.client(
        "sts",
        endpoint_url=harness.url,
        config=Config(retries={"mode": "adaptive", "max_attempts": 10}),
        **ROOT,
    )  # type: ignore[call-overload]
    for i in range(20):
        sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/R", RoleSessionName=f"s{i}")
    iam_throttled = harness.count("GetUser", fault=Fault.THROTTLED)
    sts_throttled = harness.count("AssumeRole", fault=Fault.THROTTLED)
    assert harness.count("GetUser") == 30 + iam_throttled  # every throttled attempt was retried
    assert harness.count("AssumeRole", account=DEFAULT_ACCOUNT) >= 20 + sts_throttled
    assert 2 <= iam_throttled <= 15 and 1 <= sts_throttled <= 10, (iam_throttled, sts_throttled)

    once = client("iam", harness.url, creds_in(harness.url, account), NO_RETRY)  # control: no retries
    errors = 0
    for _ in range(15):
        try:
            once.get_user(UserName="jane")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "Throttling"
            errors += 1
    assert errors > 0


# -- expiring sessions ----------------------------------------------------------------------------


def test_an_assumed_role_session_expires_while_a_fresh_one_works(harness: AwsHarness, emu: Emulator) -> None:
    [account] = fresh_account_ids(1)
    old = creds_in(harness.url, account)  # issued before the switch: never expires
    harness.expire = Expire(after=1.0, grace=0.5)
    sts = boto3.client("sts", endpoint_url=harness.url, **ROOT)  # type: ignore[call-overload]
    resp = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="s1"
    )
    expected = datetime.now(UTC) + timedelta(seconds=1.0, minutes=15)
    assert abs((resp["Credentials"]["Expiration"] - expected).total_seconds()) < 5
    c = resp["Credentials"]
    session = client(
        "iam",
        harness.url,
        {
            "aws_access_key_id": c["AccessKeyId"],
            "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"],
        },
        NO_RETRY,
    )
    session.list_users()
    assert harness.account_of(c["AccessKeyId"]) == account
    time.sleep(1.0 + 0.5 + 1.1)  # X-Amz-Date has whole seconds
    with pytest.raises(ClientError) as exc:
        session.list_users()
    assert code(exc) == "ExpiredToken" and exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    client("iam", harness.url, creds_in(harness.url, account), NO_RETRY).list_users()  # a fresh session
    client("iam", harness.url, old, NO_RETRY).list_users()
    boto3.client("iam", endpoint_url=harness.url, **ROOT).list_users()  # type: ignore[call-overload]
    [expired] = [x for x in harness.calls if x.fault == Fault.EXPIRED]
    assert expired.access_key == c["AccessKeyId"] and expired.account == account


def _refreshing_profile(
    account: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> boto3.Session:
    """A session on a role profile: botocore assumes the role and refreshes it by itself."""
    config = tmp_path / "config"
    config.write_text(
        f"[profile member]\nrole_arn = arn:aws:iam::{account}:role/OrganizationAccountAccessRole\n"
        "credential_source = Environment\nregion = us-east-1\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    return boto3.Session(profile_name="member")


def test_botocore_refreshing_credentials_outlive_the_session(
    harness: AwsHarness, emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported Expiration puts botocore's refresh window where it falls on a one-hour session:
    a role profile (botocore refreshes it) keeps working across several session lifetimes."""
    [account] = fresh_account_ids(1)
    session = _refreshing_profile(account, tmp_path, monkeypatch, harness.url)
    harness.expire = Expire(after=0.5, grace=0.5)
    iam = session.client("iam", config=NO_RETRY)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5.0:
        iam.list_users()
        time.sleep(0.1)
    listed = [c for c in harness.calls if c.action == "ListUsers"]
    assert {c.account for c in listed} == {account} and harness.count(fault=Fault.EXPIRED) == 0
    assert len({c.access_key for c in listed}) >= 3  # a new session as each one neared its end
    first_session = next(c for c in harness.calls if c.action == "AssumeRole")
    assert listed[-1].t > first_session.t + 0.5 + 0.5 + 1  # well past the first session's end


# -- all together ---------------------------------------------------------------------------------


def test_all_switches_together(emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything on: 25 creates and a paginated re-read through an adaptive client on a refreshing
    role profile. Lost answers retried by botocore come back EntityAlreadyExists (the create went
    through); the re-read right away is stale; once the lag has passed it shows all 25."""
    adaptive = Config(retries={"mode": "adaptive", "max_attempts": 10})
    switches = {
        "lag": Lag(LAG),
        "lose": Lose(share=0.1, how="either"),
        "expire": Expire(after=1.0, grace=1.0),
    }
    with AwsHarness.realistic(emu.url, seed=3, **switches) as h:
        [account] = fresh_account_ids(1)
        iam = _refreshing_profile(account, tmp_path, monkeypatch, h.url).client("iam", config=adaptive)

        def names() -> list[str]:
            pages = iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 10})
            return [u["UserName"] for p in pages for u in p["Users"]]

        assert names() == []
        already = 0
        for i in range(25):
            try:
                iam.create_user(UserName=f"u{i:02d}")
            except ClientError as e:
                assert e.response["Error"]["Code"] == "EntityAlreadyExists", e
                already += 1
        assert names() == []  # stale: the state before the first write still invisible
        time.sleep(LAG)
        assert names() == [f"u{i:02d}" for i in range(25)]
        assert h.count("ListUsers", account=account, fault="") >= 1 + 3  # then 3 pages of 10
        lost = [c for c in h.lost if c.action == "CreateUser"]
        assert len(lost) >= 1 and already <= len(lost)
        assert h.count(account=account, fault=Fault.THROTTLED) >= 1
        assert h.count(account=account, fault=Fault.STALE) >= 1
        assert h.count(fault=Fault.EXPIRED) == 0 and h.count("AssumeRole") >= 2


# -- Identity Center -------------------------------------------------------------------------------


NAME = {"GivenName": "Given", "FamilyName": "Family"}


def ic_member(harness: AwsHarness, emu: Emulator) -> tuple[Any, Any, Any, Any, str, str]:
    """(sso-admin and identitystore through the harness, the same straight to the emulator, the
    instance ARN and identity store id) in a fresh account, with retries off."""
    [account] = fresh_account_ids(1)
    creds = creds_in(harness.url, account)
    sso, store = (client(s, harness.url, creds, NO_RETRY) for s in ("sso-admin", "identitystore"))
    raw_sso, raw_store = (client(s, emu.url, creds) for s in ("sso-admin", "identitystore"))
    instance = raw_sso.list_instances()["Instances"][0]
    return sso, store, raw_sso, raw_store, instance["InstanceArn"], instance["IdentityStoreId"]


def assignment_of(raw_sso: Any, raw_store: Any, arn: str, store_id: str, name: str = "ps") -> dict[str, str]:
    ps = raw_sso.create_permission_set(InstanceArn=arn, Name=name)["PermissionSet"]["PermissionSetArn"]
    group = raw_store.create_group(IdentityStoreId=store_id, DisplayName=f"g-{name}")["GroupId"]
    return {
        "InstanceArn": arn,
        "TargetId": "111122223333",
        "TargetType": "AWS_ACCOUNT",
        "PermissionSetArn": ps,
        "PrincipalType": "GROUP",
        "PrincipalId": group,
    }


def listed(raw_sso: Any, fields: dict[str, str]) -> list[str]:
    got = raw_sso.list_account_assignments(
        InstanceArn=fields["InstanceArn"],
        AccountId=fields["TargetId"],
        PermissionSetArn=fields["PermissionSetArn"],
    )["AccountAssignments"]
    return [a["PrincipalId"] for a in got]


def test_identity_center_requests_run_in_progress_then_succeed_or_fail(
    harness: AwsHarness, emu: Emulator
) -> None:
    sso, _, raw_sso, raw_store, arn, store_id = ic_member(harness, emu)
    fields = assignment_of(raw_sso, raw_store, arn, store_id)
    # control: the emulator answers SUCCEEDED at once
    first = assignment_of(raw_sso, raw_store, arn, store_id, "control")
    assert sso.create_account_assignment(**first)["AccountAssignmentCreationStatus"]["Status"] == "SUCCEEDED"

    harness.ic_async = IcAsync(seconds=1.0)
    status = sso.create_account_assignment(**fields)["AccountAssignmentCreationStatus"]
    assert status["Status"] == "IN_PROGRESS" and status["PrincipalId"] == fields["PrincipalId"]
    poll = {"InstanceArn": arn, "AccountAssignmentCreationRequestId": status["RequestId"]}
    assert sso.describe_account_assignment_creation_status(**poll)["AccountAssignmentCreationStatus"][
        "Status"
    ] == ("IN_PROGRESS")
    assert listed(raw_sso, fields) == []  # AWS has not made it yet
    harness.ic_settled()
    assert sso.describe_account_assignment_creation_status(**poll)["AccountAssignmentCreationStatus"][
        "Status"
    ] == ("SUCCEEDED")
    assert listed(raw_sso, fields) == [fields["PrincipalId"]]
    # the same assignment again: SUCCEEDED, and no second one (the emulator would make a duplicate)
    sso.create_account_assignment(**fields)
    harness.ic_settled()
    assert listed(raw_sso, fields) == [fields["PrincipalId"]]

    # provisioning (the emulator lacks its status call) and a deletion: in progress, then done
    provision = sso.provision_permission_set(
        InstanceArn=arn,
        PermissionSetArn=fields["PermissionSetArn"],
        TargetType="AWS_ACCOUNT",
        TargetId="111122223333",
    )["PermissionSetProvisioningStatus"]
    assert provision["Status"] == "IN_PROGRESS"
    deletion = sso.delete_account_assignment(**fields)["AccountAssignmentDeletionStatus"]
    assert deletion["Status"] == "IN_PROGRESS" and listed(raw_sso, fields) == [fields["PrincipalId"]]
    harness.ic_settled()
    assert listed(raw_sso, fields) == []
    got = sso.describe_permission_set_provisioning_status(
        InstanceArn=arn, ProvisionPermissionSetRequestId=provision["RequestId"]
    )["PermissionSetProvisioningStatus"]
    assert got["Status"] == "SUCCEEDED" and got["AccountId"] == "111122223333"
    with pytest.raises(ClientError) as gone:  # a deletion of what is not there: at once, as the emulator
        sso.delete_account_assignment(**fields)
    assert code(gone) == "ResourceNotFoundException"

    # FAILED: nothing is made, and the reason is AWS's
    harness.ic_async = IcAsync(seconds=0.2, fail_share=1.0, fail_times=1)
    failed = sso.create_account_assignment(**fields)["AccountAssignmentCreationStatus"]
    harness.ic_settled()
    done = sso.describe_account_assignment_creation_status(
        InstanceArn=arn, AccountAssignmentCreationRequestId=failed["RequestId"]
    )["AccountAssignmentCreationStatus"]
    assert done["Status"] == "FAILED" and "retry" in done["FailureReason"]
    assert listed(raw_sso, fields) == []
    sso.create_account_assignment(**fields)  # fail_times=1: the next one succeeds
    harness.ic_settled()
    assert listed(raw_sso, fields) == [fields["PrincipalId"]]
    assert harness.count(fault=Fault.IC_FAILED) == 1 and harness.count(fault=Fault.IC_IN_PROGRESS) >= 1


def test_a_write_to_a_permission_set_busy_with_another_operation_answers_conflict(
    harness: AwsHarness, emu: Emulator
) -> None:
    sso, _, raw_sso, raw_store, arn, store_id = ic_member(harness, emu)
    fields = assignment_of(raw_sso, raw_store, arn, store_id)
    other = raw_sso.create_permission_set(InstanceArn=arn, Name="other")["PermissionSet"]["PermissionSetArn"]
    policy = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    harness.ic_async = IcAsync(seconds=1.5)
    sso.create_account_assignment(**fields)
    # control: no conflict without the switch
    sso.put_inline_policy_to_permission_set(
        InstanceArn=arn, PermissionSetArn=fields["PermissionSetArn"], InlinePolicy=DOC
    )

    harness.ic_conflict = IcConflict()
    for write in (
        lambda: sso.attach_managed_policy_to_permission_set(
            InstanceArn=arn, PermissionSetArn=fields["PermissionSetArn"], ManagedPolicyArn=policy
        ),
        lambda: sso.provision_permission_set(
            InstanceArn=arn,
            PermissionSetArn=fields["PermissionSetArn"],
            TargetType="AWS_ACCOUNT",
            TargetId="1" * 12,
        ),
        lambda: sso.create_account_assignment(**{**fields, "TargetId": "777788889999"}),
    ):
        with pytest.raises(ClientError) as busy:
            write()
        assert code(busy) == "ConflictException"
    # another permission set is not busy, and reads are never refused
    sso.attach_managed_policy_to_permission_set(
        InstanceArn=arn, PermissionSetArn=other, ManagedPolicyArn=policy
    )
    sso.list_managed_policies_in_permission_set(InstanceArn=arn, PermissionSetArn=fields["PermissionSetArn"])
    harness.ic_settled()
    sso.attach_managed_policy_to_permission_set(
        InstanceArn=arn, PermissionSetArn=fields["PermissionSetArn"], ManagedPolicyArn=policy
    )
    assert harness.count(fault=Fault.IC_CONFLICT) == 3


def test_someone_elses_operation_refuses_a_write_to_an_idle_permission_set(
    harness: AwsHarness, emu: Emulator
) -> None:
    """IcConflict(others=...): a write to a permission set nothing here is busy with answers
    ConflictException as if another operator were working on it, at most `others_times`."""
    sso, _, raw_sso, _, arn, _ = ic_member(harness, emu)
    ps = raw_sso.create_permission_set(InstanceArn=arn, Name="idle")["PermissionSet"]["PermissionSetArn"]
    policy = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    harness.ic_conflict = IcConflict(others=1.0, others_times=1)
    with pytest.raises(ClientError) as refused:
        sso.attach_managed_policy_to_permission_set(
            InstanceArn=arn, PermissionSetArn=ps, ManagedPolicyArn=policy
        )
    assert code(refused) == "ConflictException"
    sso.list_managed_policies_in_permission_set(InstanceArn=arn, PermissionSetArn=ps)  # reads: never
    sso.attach_managed_policy_to_permission_set(InstanceArn=arn, PermissionSetArn=ps, ManagedPolicyArn=policy)
    assert harness.count(fault=Fault.IC_CONFLICT_OTHERS) == 1 and harness.count(fault=Fault.IC_CONFLICT) == 0


def test_identitystore_reads_lag_behind_its_writes(harness: AwsHarness, emu: Emulator) -> None:
    _, store, _, raw_store, _, store_id = ic_member(harness, emu)
    by_name = {
        "AlternateIdentifier": {"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "ann"}}
    }
    assert store.list_users(IdentityStoreId=store_id)["Users"] == []
    user = store.create_user(IdentityStoreId=store_id, UserName="control", DisplayName="C", Name=NAME)[
        "UserId"
    ]
    assert store.describe_user(IdentityStoreId=store_id, UserId=user)["UserName"] == "control"  # switch off

    harness.store_lag = StoreLag(seconds=LAG)
    before = [u["UserName"] for u in store.list_users(IdentityStoreId=store_id)["Users"]]
    ann = store.create_user(IdentityStoreId=store_id, UserName="ann", DisplayName="Ann", Name=NAME)["UserId"]
    group = store.create_group(IdentityStoreId=store_id, DisplayName="team")["GroupId"]
    for read in (
        lambda: store.get_user_id(IdentityStoreId=store_id, **by_name),
        lambda: store.describe_user(IdentityStoreId=store_id, UserId=ann),
        lambda: store.describe_group(IdentityStoreId=store_id, GroupId=group),
    ):
        with pytest.raises(ClientError) as lagged:
            read()
        assert code(lagged) == "ResourceNotFoundException"
    assert [u["UserName"] for u in store.list_users(IdentityStoreId=store_id)["Users"]] == before  # stale
    assert {u["UserName"] for u in raw_store.list_users(IdentityStoreId=store_id)["Users"]} == {
        "control",
        "ann",
    }
    time.sleep(LAG + 0.2)
    assert store.get_user_id(IdentityStoreId=store_id, **by_name)["UserId"] == ann
    assert {u["UserName"] for u in store.list_users(IdentityStoreId=store_id)["Users"]} == {"control", "ann"}
    assert harness.count(fault=Fault.STORE_LAG_NOT_FOUND) == 3 and harness.count(fault=Fault.STALE) >= 1


def test_identity_center_lists_come_in_pages(harness: AwsHarness, emu: Emulator) -> None:
    sso, store, raw_sso, raw_store, arn, store_id = ic_member(harness, emu)
    for i in range(150):
        raw_store.create_user(IdentityStoreId=store_id, UserName=f"u{i:03d}", DisplayName="U", Name=NAME)
    for i in range(5):
        raw_sso.create_permission_set(InstanceArn=arn, Name=f"ps{i}")
    # control: the emulator's own pages (it pages identitystore lists at 100 itself, not sso-admin's)
    assert len(sso.list_permission_sets(InstanceArn=arn)["PermissionSets"]) == 5

    harness.pages = Pages(ic_default=2)
    pages = list(store.get_paginator("list_users").paginate(IdentityStoreId=store_id))
    assert [len(p["Users"]) for p in pages] == [2] * 75  # the default page size
    pages = list(
        store.get_paginator("list_users").paginate(
            IdentityStoreId=store_id, PaginationConfig={"PageSize": 100}
        )
    )
    assert [len(p["Users"]) for p in pages] == [100, 50]
    assert sorted(u["UserName"] for p in pages for u in p["Users"]) == [f"u{i:03d}" for i in range(150)]
    sets = list(sso.get_paginator("list_permission_sets").paginate(InstanceArn=arn))
    assert [len(p["PermissionSets"]) for p in sets] == [2, 2, 1]
    with pytest.raises(ClientError) as big:
        store.list_users(IdentityStoreId=store_id, MaxResults=101)
    assert code(big) == "ValidationException"


def test_a_second_membership_of_the_same_user_is_refused_as_aws_does(
    harness: AwsHarness, emu: Emulator
) -> None:
    _, store, _, raw_store, _, store_id = ic_member(harness, emu)
    user = raw_store.create_user(IdentityStoreId=store_id, UserName="ann", DisplayName="Ann", Name=NAME)[
        "UserId"
    ]
    group = raw_store.create_group(IdentityStoreId=store_id, DisplayName="team")["GroupId"]
    raw_store.create_group_membership(IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": user})
    with pytest.raises(ClientError) as taken:
        store.create_group_membership(IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": user})
    assert code(taken) == "ConflictException"
    assert taken.value.response["Reason"] == "UNIQUENESS_CONSTRAINT_VIOLATION"
    got = raw_store.list_group_memberships(IdentityStoreId=store_id, GroupId=group)["GroupMemberships"]
    assert len(got) == 1
