"""STS region advice (pure) and the STS/account calls the emulator lacks, with botocore Stubber.

moto implements neither SetSecurityTokenServicePreferences, account:ListRegions, nor
RegionDisabledException, so those calls are checked here with botocore's Stubber: exact
parameters in, AWS-shaped answers (and errors) out.
"""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from iamlayer.audit.model import Unavailable
from iamlayer.audit.sts import (
    STS_CLICK_PATH,
    RegionProbe,
    RegionStatus,
    StsInput,
    advice_json,
    advise,
    regions_to_probe,
)
from iamlayer.aws.audit_reads import (
    probe_sts_region,
    quick_client,
    read_enabled_regions,
    set_token_version,
)
from iamlayer.aws.session import AccountClients
from iamlayer.errors import AccessDeniedError


def test_set_token_version_sends_v2token(offline_clients: AccountClients, iam_stub: Stubber) -> None:
    iam_stub.add_response(
        "set_security_token_service_preferences", {}, {"GlobalEndpointTokenVersion": "v2Token"}
    )
    set_token_version(offline_clients, "v2")


def test_set_token_version_access_denied_is_mapped(
    offline_clients: AccountClients, iam_stub: Stubber
) -> None:
    iam_stub.add_client_error(
        "set_security_token_service_preferences",
        service_error_code="AccessDenied",
        service_message="not authorized",
        http_status_code=403,
        expected_params={"GlobalEndpointTokenVersion": "v2Token"},
    )
    with pytest.raises(AccessDeniedError, match="token version to v2 in security"):
        set_token_version(offline_clients, "v2")


def test_list_regions_asks_for_enabled_ones_and_pages(offline_clients: AccountClients) -> None:
    acc = quick_client(offline_clients, "account", "us-east-1")
    with Stubber(acc) as stub:
        params = {"RegionOptStatusContains": ["ENABLED", "ENABLED_BY_DEFAULT"]}
        stub.add_response(
            "list_regions",
            {
                "Regions": [
                    {"RegionName": "us-east-1", "RegionOptStatus": "ENABLED_BY_DEFAULT"},
                    {"RegionName": "eu-west-1", "RegionOptStatus": "ENABLED_BY_DEFAULT"},
                ],
                "NextToken": "t1",
            },
            params,
        )
        stub.add_response(
            "list_regions",
            {"Regions": [{"RegionName": "ap-east-1", "RegionOptStatus": "ENABLED"}]},
            params | {"NextToken": "t1"},
        )
        assert read_enabled_regions(offline_clients) == {
            "us-east-1": "ENABLED_BY_DEFAULT",
            "eu-west-1": "ENABLED_BY_DEFAULT",
            "ap-east-1": "ENABLED",
        }
        stub.assert_no_pending_responses()


def test_list_regions_denied_raises_access_denied(offline_clients: AccountClients) -> None:
    acc = quick_client(offline_clients, "account", "us-east-1")
    with Stubber(acc) as stub:
        stub.add_client_error("list_regions", "AccessDeniedException", "no", 403)
        with pytest.raises(AccessDeniedError, match="account:ListRegions"):
            read_enabled_regions(offline_clients)


def test_probe_reads_region_disabled_exception(offline_clients: AccountClients) -> None:
    sts = quick_client(offline_clients, "sts", "eu-west-3")
    assert sts.meta.endpoint_url == "https://sts.eu-west-3.amazonaws.com"
    with Stubber(sts) as stub:
        stub.add_client_error(
            "get_session_token",
            service_error_code="RegionDisabledException",
            service_message="STS is not activated in this region for account:123456789012.",
            http_status_code=403,
            expected_params={"DurationSeconds": 900},
        )
        probe = probe_sts_region(offline_clients, "eu-west-3")
    assert probe == RegionProbe(
        "eu-west-3", RegionStatus.INACTIVE, "GetSessionToken: RegionDisabledException"
    )


def test_probe_active_and_session_credentials_unknown(offline_clients: AccountClients) -> None:
    sts = quick_client(offline_clients, "sts", "eu-west-1")
    with Stubber(sts) as stub:
        creds = {"AccessKeyId": "ASIAEXAMPLEEXAMPLE01", "SecretAccessKey": "s" * 40, "SessionToken": "t" * 20}
        stub.add_response(
            "get_session_token", {"Credentials": creds | {"Expiration": "2030-01-01T00:00:00Z"}}
        )
        stub.add_client_error(
            "get_session_token", "AccessDenied", "Cannot call GetSessionToken with session credentials", 403
        )
        active = probe_sts_region(offline_clients, "eu-west-1")
        unknown = probe_sts_region(offline_clients, "eu-west-1")
    assert active.status is RegionStatus.ACTIVE
    assert "s" * 40 not in repr(active)  # the probe's credentials are dropped, never kept
    assert unknown.status is RegionStatus.UNKNOWN and "temporary" in unknown.why


def test_probe_via_assume_role_into_the_target_account(offline_clients: AccountClients) -> None:
    sts = quick_client(offline_clients, "sts", "us-west-2")
    arn = "arn:aws:iam::555555555555:role/OrganizationAccountAccessRole"
    with Stubber(sts) as stub:
        stub.add_client_error(
            "assume_role",
            "RegionDisabledException",
            "STS is not activated in this region for account:555555555555",
            403,
            expected_params={"RoleArn": arn, "RoleSessionName": "iamlayer-sts-probe", "DurationSeconds": 900},
        )
        probe = probe_sts_region(offline_clients, "us-west-2", assume_role_arn=arn)
    assert probe.status is RegionStatus.INACTIVE and probe.why.startswith("AssumeRole")


# --- advice (pure) -------------------------------------------------------------------------------


def _input(
    probes: dict[str, RegionStatus], enabled: dict[str, str] | Unavailable, version: int = 1
) -> StsInput:
    return StsInput(
        "apps", "555555555555", version, enabled, tuple(RegionProbe(r, s, "x") for r, s in probes.items())
    )


def test_advice_lists_regions_to_deactivate_with_click_path() -> None:
    enabled = {
        "us-east-1": "ENABLED_BY_DEFAULT",
        "eu-west-1": "ENABLED_BY_DEFAULT",
        "us-west-2": "ENABLED_BY_DEFAULT",
        "ap-east-1": "ENABLED",
        "eu-west-2": "ENABLED_BY_DEFAULT",
    }
    probes = {
        "us-east-1": RegionStatus.ACTIVE,
        "eu-west-1": RegionStatus.ACTIVE,
        "us-west-2": RegionStatus.ACTIVE,
        "ap-east-1": RegionStatus.ACTIVE,
        "eu-west-2": RegionStatus.UNKNOWN,
    }
    a = advise(_input(probes, enabled), ["eu-west-1"])
    assert [x.region for x in a.deactivate] == ["ap-east-1", "us-west-2"]
    assert a.deactivate[1].how == STS_CLICK_PATH.format(region="us-west-2")
    assert "Endpoints > us-west-2 > Deactivate" in a.deactivate[1].how
    assert "AWS Regions" in a.deactivate[0].how  # opt-in: STS goes with the region itself
    assert a.unknown == (("eu-west-2", "x"),)
    assert a.set_v2 and "v1" in a.token_note and not a.clean
    doc = advice_json(a)
    assert doc["deactivate"][1]["region"] == "us-west-2" and doc["set_token_version_v2"] is True


def test_advice_flags_region_in_use_with_sts_off_and_unknown_opt_in() -> None:
    a = advise(
        _input(
            {"eu-west-1": RegionStatus.INACTIVE, "us-east-1": RegionStatus.ACTIVE},
            Unavailable("AccessDenied"),
            version=2,
        ),
        ["eu-west-1"],
    )
    assert a.activate == ("eu-west-1",) and a.deactivate == ()
    assert a.unknown[0][0] == "*" and "AccessDenied" in a.unknown[0][1]
    assert not a.set_v2


def test_clean_account() -> None:
    a = advise(
        _input(
            {"us-east-1": RegionStatus.ACTIVE, "eu-west-1": RegionStatus.INACTIVE},
            {"us-east-1": "ENABLED_BY_DEFAULT", "eu-west-1": "ENABLED_BY_DEFAULT"},
            version=2,
        ),
        ["us-east-1"],
    )
    assert a.clean


def test_regions_to_probe() -> None:
    assert regions_to_probe({"us-east-1": "x", "ap-east-1": "y"}, ["eu-west-1"]) == [
        "ap-east-1",
        "eu-west-1",
        "us-east-1",
    ]
    fallback = regions_to_probe(Unavailable("denied"), ["af-south-1"])
    assert "af-south-1" in fallback and "us-west-2" in fallback and "us-east-1" in fallback


def test_the_click_path_is_printed_once_then_the_regions() -> None:
    """Issue 18 P3: five accounts with STS active in 15 regions not in use printed the same
    click-path 75 times. Each path is printed once, numbered; each account lists its regions."""
    from dataclasses import replace

    from iamlayer.audit.sts import DEACTIVATABLE_REGIONS, REGION_CLICK_PATH
    from iamlayer.cli.audit_cmds import print_sts_advice
    from iamlayer.cli.common import console

    enabled = {r: "ENABLED_BY_DEFAULT" for r in (*DEACTIVATABLE_REGIONS, "us-east-1")} | {
        "ap-east-1": "ENABLED"
    }
    probes = {r: RegionStatus.ACTIVE for r in enabled}
    advices = [
        (replace(advise(_input(probes, enabled, version=2), ["us-east-1"]), account=f"acct{i}"), None, None)
        for i in range(5)
    ]
    with console.capture() as out:
        print_sts_advice(advices)
    text = " ".join(out.get().split())
    assert text.count("Security Token Service (STS) > Endpoints") == 1
    assert text.count("AWS Regions >") == 1
    assert (
        STS_CLICK_PATH.format(region="<region>") in text
        and REGION_CLICK_PATH.format(region="<region>") in text
    )
    assert text.count("STS active in 17 region(s) not in use") == 5
    assert text.count("(1) ap-east-1 (2) ap-northeast-1, ap-northeast-2,") == 5
    assert len(out.get().splitlines()) < 40
