"""The STS and Organizations gateways, and the clients the accounts share, with botocore's Stubber.

The Stubber stands in for AWS where the emulator cannot show the behaviour: moto accepts any MFA
code, never throttles, and ignores page sizes. It validates every request against botocore's model.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from iamlayer.aws.gateways.organizations import OrgAccount, OrganizationsGateway, Unit
from iamlayer.aws.gateways.sts import InvalidMfaCodeError, StsGateway
from iamlayer.aws.session import AccountClients, AccountSession, ApiStats
from iamlayer.errors import AccessDeniedError, NotFoundError

ROLE = "arn:aws:iam::333333333333:role/OrganizationAccountAccessRole"
EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)
CREDS = {"AccessKeyId": "ASIAEXAMPLE000000001", "SecretAccessKey": "s" * 40, "SessionToken": "t" * 20}


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "5")
    monkeypatch.setattr("time.sleep", lambda _s: None)


def test_assume_sends_what_it_is_given_and_reads_the_answer(offline_clients: AccountClients) -> None:
    sts = StsGateway(offline_clients.sts(), "for account shared (333333333333)")
    with Stubber(sts.client) as stub:
        stub.add_response(
            "assume_role",
            {
                "Credentials": CREDS | {"Expiration": EXPIRES},
                "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:jane", "Arn": "arn:aws:sts::333:x/jane"},
            },
            {"RoleArn": ROLE, "RoleSessionName": "iamlayer-jane", "SourceIdentity": "jane"},
        )
        got = sts.assume(ROLE, "iamlayer-jane", source_identity="jane")
    assert got.arn == "arn:aws:sts::333:x/jane"
    assert got.credentials.session_token == "t" * 20 and got.credentials.expiration == EXPIRES


def test_a_throttled_assume_is_sent_again(offline_clients: AccountClients) -> None:
    sts = StsGateway(offline_clients.sts())
    with Stubber(sts.client) as stub:
        stub.add_client_error("assume_role", "Throttling", "Rate exceeded", 400)
        stub.add_response("assume_role", {"Credentials": CREDS | {"Expiration": EXPIRES}})
        assert sts.assume(ROLE, "jane").credentials.access_key_id == CREDS["AccessKeyId"]
        stub.assert_no_pending_responses()


def test_a_rejected_mfa_code_is_told_from_other_denials(offline_clients: AccountClients) -> None:
    sts = StsGateway(offline_clients.sts())
    serial = "arn:aws:iam::222222222222:mfa/jane"
    with Stubber(sts.client) as stub:
        stub.add_client_error(
            "get_session_token",
            "AccessDenied",
            "MultiFactorAuthentication failed with invalid MFA one time pass code.",
            403,
        )
        stub.add_client_error("assume_role", "AccessDenied", "not authorized to perform sts:AssumeRole", 403)
        with pytest.raises(InvalidMfaCodeError, match="rejected the MFA code"):
            sts.session_token(duration=900, serial=serial, code="123456")
        with pytest.raises(AccessDeniedError, match=f"assuming role {ROLE}: AccessDenied") as denied:
            sts.assume(ROLE, "jane", serial=serial, code="123456")
    assert not isinstance(denied.value, InvalidMfaCodeError)


def test_caller_identity(offline_clients: AccountClients) -> None:
    sts = StsGateway(offline_clients.sts())
    with Stubber(sts.client) as stub:
        stub.add_response(
            "get_caller_identity",
            {"Account": "222222222222", "Arn": "arn:aws:iam::222222222222:user/jane", "UserId": "AIDA1"},
        )
        ident = sts.caller_identity()
    assert (ident.account, ident.kind, ident.name) == ("222222222222", "user", "jane")


def _account(n: int, status: str = "ACTIVE") -> dict[str, Any]:
    return {"Id": f"{n:012d}", "Name": f"a{n}", "Email": f"a{n}@example.com", "Status": status}


def test_organizations_reads_every_page(offline_clients: AccountClients) -> None:
    org = OrganizationsGateway(offline_clients.organizations())
    with Stubber(org.client) as stub:
        stub.add_response(
            "list_accounts_for_parent", {"Accounts": [_account(1)], "NextToken": "p2"}, {"ParentId": "ou-1"}
        )
        stub.add_response(
            "list_accounts_for_parent",
            {"Accounts": [_account(2, "SUSPENDED")]},
            {"ParentId": "ou-1", "NextToken": "p2"},
        )
        stub.add_response(
            "list_organizational_units_for_parent",
            {"OrganizationalUnits": [{"Id": "ou-2", "Name": "Dev"}], "NextToken": "n"},
            {"ParentId": "r-1"},
        )
        stub.add_response(
            "list_organizational_units_for_parent",
            {"OrganizationalUnits": [{"Id": "ou-3", "Name": "Prd"}]},
            {"ParentId": "r-1", "NextToken": "n"},
        )
        accounts = org.accounts_under("ou-1")
        units = org.units_under("r-1")
    assert accounts == [
        OrgAccount("000000000001", "a1", "a1@example.com", "ACTIVE"),
        OrgAccount("000000000002", "a2", "a2@example.com", "SUSPENDED"),
    ]
    assert units == [Unit("ou-2", "Dev"), Unit("ou-3", "Prd")]


def test_organizations_errors_name_the_attempt_and_are_ours(offline_clients: AccountClients) -> None:
    org = OrganizationsGateway(offline_clients.organizations())
    with Stubber(org.client) as stub:
        stub.add_client_error("list_roots", "AccessDeniedException", "You don't have permissions", 400)
        stub.add_client_error("describe_organization", "AWSOrganizationsNotInUseException", "no org", 400)
        with pytest.raises(
            AccessDeniedError, match=r"listing the organization's roots \(organizations:ListRoots\)"
        ):
            org.roots()
        with pytest.raises(Exception, match="describing the organization") as err:
            org.organization()
    assert not isinstance(err.value, NotFoundError) and "AWSOrganizationsNotInUseException" in str(err.value)


def test_accounts_share_the_operators_session_and_each_services_model_and_class(
    offline_clients: AccountClients,
) -> None:
    """An account's session is a copy of the operator's with its own credentials (see
    iamlayer.aws.accounts.assumed_role_session): their IAM clients share the service model and
    client class botocore would otherwise build for each, but sign with their own keys."""
    from botocore.credentials import Credentials

    operator = offline_clients.session
    core: Any = copy.copy(operator._session)
    core._credentials = Credentials("AKIDACCOUNT2", "y")
    account = AccountClients(AccountSession(core, "us-east-1"), "shared", ApiStats())
    mine, theirs = offline_clients.iam(), account.iam()
    assert mine is not theirs and type(mine) is type(theirs)
    assert mine.meta.service_model is theirs.meta.service_model
    assert mine._request_signer._credentials.access_key == "AKIDEXAMPLE"
    assert theirs._request_signer._credentials.access_key == "AKIDACCOUNT2"
    with Stubber(theirs) as stub:
        stub.add_response("list_account_aliases", {"AccountAliases": ["acme-shared"], "IsTruncated": False})
        theirs.list_account_aliases()
    assert account.stats.by_account() == {"shared": 1} and offline_clients.stats.by_account() == {}


def test_sessions_iamlayer_did_not_make_clients_from_build_their_own(offline_clients: AccountClients) -> None:
    import boto3

    offline_clients.iam()  # the sharing is installed
    other = boto3.Session(aws_access_key_id="AKIDOTHER", aws_secret_access_key="z", region_name="us-east-1")
    first, second = other.client("iam"), other.client("iam")
    assert type(first) is not type(second)
    assert first.meta.service_model is not second.meta.service_model


def test_what_a_session_shares_goes_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared models and classes (and the accounts reached) live on the operator's session:
    a library caller's sessions are freed when dropped, with everything they shared."""
    import gc
    import weakref

    import boto3

    from iamlayer.aws.accounts import _operator

    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    session = boto3.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name="us-east-1"
    )
    AccountClients(session, "operator", ApiStats()).iam()
    _operator(session)
    emitter = weakref.ref(session._session.get_component("event_emitter"))
    dropped = weakref.ref(session)
    del session
    gc.collect()
    assert dropped() is None and emitter() is None
