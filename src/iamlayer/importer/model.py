"""What a reader hands to the builder: accounts as read, keys, ciphertexts and findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from iamlayer.aws.session import ApiStats
from iamlayer.secrets.names import SecretKind
from iamlayer.state.ic_model import IcState
from iamlayer.state.model import AccountState


@dataclass
class SourceAccount:
    """One account as a reader found it."""

    id: str
    state: AccountState
    name: str = ""  # the spec name, when the reader was told it (--account NAME=ID)
    org_name: str = ""  # the account's name in AWS Organizations, when known
    management: bool = False  # the organization's management account


@dataclass(frozen=True)
class Ciphertext:
    """A secret Terraform encrypted to a person's key, carried over as it is (never decrypted)."""

    account_id: str
    user: str
    kind: SecretKind
    message: bytes  # the binary OpenPGP message
    fingerprint: str  # the recipient key's fingerprint, uppercase hex ("" when unknown)
    created: str = ""  # ISO time, when known
    access_key_id: str | None = None
    source: str = ""  # where it was found, e.g. the Terraform address


@dataclass(frozen=True)
class ImportFinding:
    """Something a person should know about the import: left out, kept as it is, or split."""

    kind: Literal["left_out", "kept", "note"]
    where: str  # an account name or id, a Terraform address...
    what: str
    why: str


@dataclass
class IcSource:
    """The IAM Identity Center instance as a reader found it, and where it lives."""

    account_id: str
    region: str
    state: IcState
    #: permission set name -> why its boundary could not be read (it is then left alone)
    unread_boundaries: dict[str, str] = field(default_factory=dict)


@dataclass
class ImportSource:
    """Everything a reader learnt, in the live state's vocabulary."""

    origin: Literal["aws", "terraform"]
    description: str  # where it came from, for IMPORT.md
    accounts: list[SourceAccount]
    region: str
    access_role: str
    # PGP public keys: file name under keys/ -> content, and user -> file name
    key_files: dict[str, bytes] = field(default_factory=dict)
    user_keys: dict[str, str] = field(default_factory=dict)
    ciphertexts: list[Ciphertext] = field(default_factory=list)
    findings: list[ImportFinding] = field(default_factory=list)
    people_account_id: str | None = None  # when the reader knows it
    stats: ApiStats | None = None  # API calls made (live reads)
    credential_report_time: dict[str, str] = field(default_factory=dict)  # account id -> generated
    identity_center: IcSource | None = None  # the instance in the management account, if any
