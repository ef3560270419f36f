"""A deleted credential's ciphertext goes before AWS's delete call, with botocore's Stubber.

Once DeleteUser (or DeleteLoginProfile) went through, no later plan sees the user's password or
keys: the user is in neither the spec nor AWS (or has no console, as the spec asks). An apply
killed right after that call would leave their ciphertexts forever, so they are removed first.
The other way round is harmless: killed before the call, AWS still holds the credential and the
next plan deletes it again. Each test records whether the files exist at the moment the delete
is sent (botocore's before-parameter-build event, which runs ahead of the Stubber's answer).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.stub import Stubber

from iamlayer.apply import credentials, handlers
from iamlayer.apply.handlers import HandlerContext
from iamlayer.errors import AwsError
from iamlayer.plan.model import Action, Address, Change, Kind
from iamlayer.secrets.keys import PublicKey

KEY_ID = "AKIAEXAMPLEKEY000001"


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "2")


def delete(kind: Kind, name: str) -> Change:
    return Change(Address("security", kind, name), Action.DELETE, {}, None)


def ciphertexts(ctx: HandlerContext, pgp_key: PublicKey) -> list[Path]:
    """jane's committed password and access key ciphertexts."""
    outbox = ctx.outbox
    password = outbox.commit(outbox.stage_password("security", "jane", pgp_key, "Pw-1234567890"))
    key = outbox.store_access_key("security", "jane", pgp_key, KEY_ID, "secret-not-real")
    return [password, key]


def files_when_sent(ctx: HandlerContext, operation: str, paths: list[Path]) -> list[list[bool]]:
    """For each `operation` call the handler sends: which of `paths` exist at that moment."""
    seen: list[list[bool]] = []
    ctx.iam.client.meta.events.register(
        f"before-parameter-build.iam.{operation}", lambda **_: seen.append([p.exists() for p in paths])
    )
    return seen


def test_the_password_ciphertext_goes_before_delete_login_profile(
    handler_ctx: HandlerContext, iam_stub: Stubber, pgp_key: PublicKey
) -> None:
    password, key = ciphertexts(handler_ctx, pgp_key)
    seen = files_when_sent(handler_ctx, "DeleteLoginProfile", [password, key])
    iam_stub.add_response("delete_login_profile", {}, {"UserName": "jane"})
    credentials.delete_login_profile(handler_ctx, delete(Kind.LOGIN_PROFILE, "jane"))
    assert seen == [[False, True]]  # the password's file gone, the access key's untouched
    assert not password.exists() and key.exists()


def test_every_ciphertext_of_a_user_goes_after_the_credentials_and_before_delete_user(
    handler_ctx: HandlerContext, iam_stub: Stubber, pgp_key: PublicKey
) -> None:
    password, key = ciphertexts(handler_ctx, pgp_key)
    at_key_delete = files_when_sent(handler_ctx, "DeleteAccessKey", [password, key])
    at_user_delete = files_when_sent(handler_ctx, "DeleteUser", [password, key])
    user = {"UserName": "jane"}
    iam_stub.add_response("delete_login_profile", {}, user)
    iam_stub.add_response(
        "list_access_keys",
        {"AccessKeyMetadata": [{"UserName": "jane", "AccessKeyId": KEY_ID, "Status": "Active"}]},
        user,
    )
    for method, field in (
        ("list_mfa_devices", "MFADevices"),
        ("list_groups_for_user", "Groups"),
        ("list_attached_user_policies", "AttachedPolicies"),
        ("list_user_policies", "PolicyNames"),
        ("list_signing_certificates", "Certificates"),
        ("list_ssh_public_keys", "SSHPublicKeys"),
    ):
        iam_stub.add_response(method, {field: []}, user)
    iam_stub.add_response("delete_access_key", {}, {**user, "AccessKeyId": KEY_ID})
    # the delete is refused (by anything but a conflict): the credentials are gone from AWS
    # already, so their ciphertexts are too, and the user's folder with them
    iam_stub.add_client_error("delete_user", "ServiceFailure", "internal", 500, expected_params=user)
    with pytest.raises(AwsError, match="ServiceFailure"):
        handlers.delete_user(handler_ctx, delete(Kind.USER, "jane"))
    assert at_key_delete == [[True, True]]
    assert at_user_delete == [[False, False]]
    assert not password.parent.exists()


def test_a_user_already_gone_from_aws_still_loses_their_ciphertexts(
    handler_ctx: HandlerContext, iam_stub: Stubber, pgp_key: PublicKey
) -> None:
    """A rerun after DeleteUser went through in an apply killed before anything else."""
    password, _ = ciphertexts(handler_ctx, pgp_key)
    iam_stub.add_client_error(
        "delete_login_profile", "NoSuchEntity", "no user jane", 404, expected_params={"UserName": "jane"}
    )
    iam_stub.add_client_error(
        "list_access_keys", "NoSuchEntity", "no user jane", 404, expected_params={"UserName": "jane"}
    )
    handlers.delete_user(handler_ctx, delete(Kind.USER, "jane"))
    assert not password.parent.exists()
