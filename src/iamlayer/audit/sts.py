"""STS hygiene per account: token version of the global endpoint, and regional endpoints to turn off.

AWS offers no API to deactivate STS in a region (console only), and GetCallerIdentity answers in
every region whatever the setting: only credential-issuing calls (GetSessionToken, AssumeRole...)
answer RegionDisabledException when the *target* account has deactivated the region. So
`iamlayer.aws.audit_reads` probes each region with such a call, and this module decides, purely,
what to tell the person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from iamlayer.audit.model import Unavailable

#: Regions whose STS endpoint is active by default and can be deactivated in the IAM console.
DEACTIVATABLE_REGIONS = (
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ap-south-1",
    "ap-northeast-3",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "sa-east-1",
)
#: STS in us-east-1 cannot be deactivated.
ALWAYS_ACTIVE_REGIONS = ("us-east-1",)

STS_CLICK_PATH = (
    "IAM console > Account settings > Security Token Service (STS) > Endpoints > {region} > Deactivate"
)
# Opt-in regions activate STS with the region itself; it can only be turned off with the region.
REGION_CLICK_PATH = "Account console (top right menu > Account) > AWS Regions > {region} > Disable"
SET_V2_HINT = "iamlayer sts-regions --set-token-version v2"


class RegionStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RegionProbe:
    """What probing one region's STS endpoint with a credential-issuing call told."""

    region: str
    status: RegionStatus
    why: str = ""  # for UNKNOWN: the error; for the others: the call that told


@dataclass(frozen=True)
class StsInput:
    """What was read from one account for the STS checks."""

    account: str
    account_id: str
    token_version: int | Unavailable  # GetAccountSummary GlobalEndpointTokenVersion (1 or 2)
    enabled_regions: Mapping[str, str] | Unavailable  # region -> ENABLED | ENABLED_BY_DEFAULT
    probes: tuple[RegionProbe, ...] = ()


@dataclass(frozen=True)
class RegionAction:
    region: str
    how: str  # the console click path
    path: str = ""  # the same path with `{region}` in place of the region: one per kind of action


@dataclass(frozen=True)
class StsAdvice:
    """What to do in one account."""

    account: str
    account_id: str
    regions_in_use: tuple[str, ...]
    token_version: int | None
    set_v2: bool  # the global endpoint issues v1 tokens: SetSecurityTokenServicePreferences v2Token
    token_note: str
    active: tuple[str, ...]
    deactivate: tuple[RegionAction, ...]
    activate: tuple[str, ...]  # in use, but STS is deactivated there
    unknown: tuple[tuple[str, str], ...]  # (region or "*", why)
    errors: tuple[str, ...] = field(default=())

    @property
    def clean(self) -> bool:
        return not (self.set_v2 or self.deactivate or self.activate or self.unknown or self.errors)


def regions_to_probe(enabled: Mapping[str, str] | Unavailable, regions_in_use: Iterable[str]) -> list[str]:
    """Every enabled region when ListRegions answered, else the default-active ones and those in use."""
    if isinstance(enabled, Unavailable):
        names = set(DEACTIVATABLE_REGIONS) | set(ALWAYS_ACTIVE_REGIONS) | set(regions_in_use)
    else:
        names = set(enabled) | set(regions_in_use)
    return sorted(names)


def _is_opt_in(region: str, enabled: Mapping[str, str] | Unavailable) -> bool:
    if isinstance(enabled, Unavailable):
        return region not in DEACTIVATABLE_REGIONS and region not in ALWAYS_ACTIVE_REGIONS
    return enabled.get(region) == "ENABLED" or (
        region not in DEACTIVATABLE_REGIONS and region not in ALWAYS_ACTIVE_REGIONS
    )


def advise(inp: StsInput, regions_in_use: Sequence[str]) -> StsAdvice:
    """Compare the probes with the regions in use and say what to change, and what is unknown."""
    in_use = tuple(dict.fromkeys(regions_in_use))
    active: list[str] = []
    deactivate: list[RegionAction] = []
    activate: list[str] = []
    unknown: list[tuple[str, str]] = []
    for probe in sorted(inp.probes, key=lambda p: p.region):
        r = probe.region
        if probe.status is RegionStatus.UNKNOWN:
            unknown.append((r, probe.why))
            continue
        if probe.status is RegionStatus.ACTIVE:
            active.append(r)
            if r in in_use or r in ALWAYS_ACTIVE_REGIONS:
                continue
            path = REGION_CLICK_PATH if _is_opt_in(r, inp.enabled_regions) else STS_CLICK_PATH
            deactivate.append(RegionAction(r, path.format(region=r), path))
        elif r in in_use:
            activate.append(r)
    if isinstance(inp.enabled_regions, Unavailable):
        unknown.append(
            (
                "*",
                f"enabled opt-in regions unknown (account:ListRegions: {inp.enabled_regions.why}); "
                "only default regions and regions in use were probed",
            )
        )
    if isinstance(inp.token_version, Unavailable):
        version: int | None = None
        set_v2 = False
        note = f"unknown: {inp.token_version.why}"
    else:
        version = inp.token_version
        set_v2 = version < 2
        note = (
            f"v{version}: global-endpoint tokens are not valid in opt-in regions; run `{SET_V2_HINT}`"
            if set_v2
            else f"v{version}: valid in every region"
        )
    return StsAdvice(
        inp.account,
        inp.account_id,
        in_use,
        version,
        set_v2,
        note,
        tuple(active),
        tuple(deactivate),
        tuple(activate),
        tuple(unknown),
    )


def unreachable_advice(account: str, account_id: str, regions_in_use: Sequence[str], why: str) -> StsAdvice:
    """An account that could not be reached: nothing decided, the reason shown."""
    return StsAdvice(
        account, account_id, tuple(regions_in_use), None, False, f"unknown: {why}", (), (), (), (), (why,)
    )


def advice_json(advice: StsAdvice) -> dict[str, Any]:
    """The JSON shape of `iamlayer sts-regions --json` for one account."""
    return {
        "account": advice.account,
        "account_id": advice.account_id,
        "regions_in_use": list(advice.regions_in_use),
        "global_endpoint_token_version": advice.token_version,
        "set_token_version_v2": advice.set_v2,
        "token_note": advice.token_note,
        "active_regions": list(advice.active),
        "deactivate": [{"region": a.region, "how": a.how} for a in advice.deactivate],
        "activate": list(advice.activate),
        "unknown": [{"region": r, "why": w} for r, w in advice.unknown],
        "errors": list(advice.errors),
        "clean": advice.clean,
    }
