"""access-key rotate and retire against the emulator: never a key nobody asked about, each one named."""

from __future__ import annotations

import json

import pytest

from layer import Layer, run_cli


def keys_of(layer: Layer, user: str) -> dict[str, str]:
    meta = layer.iam("security").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {k["AccessKeyId"]: k["Status"] for k in meta}


@pytest.mark.proof  # a long walk: make proof (make test keeps under 5 minutes)
def test_retire_and_rotate_touch_only_the_keys_asked_about(layer: Layer, aws_env: dict[str, str]) -> None:
    def cli(*args: str) -> tuple[int, str, str]:
        r = run_cli(*args, cwd=layer.root, env=aws_env)
        return r.code, r.out, r.err

    assert cli("apply", "--auto-approve")[0] == 0
    [issued] = keys_of(layer, "machine.ci")
    # A machine user (no self-managing group) is not pointed at `iamlayer onboard`.
    code, out, _ = cli("outputs", "--user", "machine.ci", "--json")
    assert code == 0 and json.loads(out)["users"][0]["onboard"] is None
    # A key made by hand, next to the one iamlayer issued.
    by_hand = layer.iam("security").create_access_key(UserName="machine.ci")["AccessKey"]["AccessKeyId"]

    # Two keys: rotation refuses, whatever it is asked to do with the old ones, and names both.
    for flags in ((), ("--deactivate-old",), ("--delete-old",)):
        code, _, err = cli("access-key", "rotate", "machine.ci", *flags)
        assert code == 1 and issued in err and by_hand in err and "not issued by iamlayer" in err, err
    assert keys_of(layer, "machine.ci") == {issued: "Active", by_hand: "Active"}

    # retire: unknown ids are refused; without a terminal it asks for --yes; nothing changed.
    code, _, err = cli("access-key", "retire", "machine.ci", "AKIANOTTHEIRS000000", "--yes")
    assert code == 1 and "not an access key of machine.ci" in err and issued in err
    code, _, err = cli("access-key", "retire", "machine.ci")
    assert code == 1 and "--yes" in err
    assert keys_of(layer, "machine.ci") == {issued: "Active", by_hand: "Active"}

    # Deactivate by id; then the default (every key but the newest iamlayer issued) deletes it.
    code, out, err = cli("access-key", "retire", "machine.ci", by_hand, "--deactivate", "--yes")
    assert code == 0 and f"Deactivated: {by_hand}" in out and "Kept: " + issued in out, out + err
    assert keys_of(layer, "machine.ci") == {issued: "Active", by_hand: "Inactive"}
    code, out, _ = cli("access-key", "retire", "machine.ci", "--yes", "--json")
    assert code == 0
    assert [(k["access_key_id"], k["action"], k["status"]) for k in json.loads(out)["retired"]] == [
        (by_hand, "deleted", "Inactive")
    ]
    assert keys_of(layer, "machine.ci") == {issued: "Active"}
    code, out, _ = cli("access-key", "retire", "machine.ci", "--yes")
    assert code == 0 and f"Nothing to retire: machine.ci has only {issued}" in out

    # One key: rotate --delete-old makes a new one and deletes exactly the old one, and says so.
    code, out, err = cli("access-key", "rotate", "machine.ci", "--delete-old")
    assert code == 0, err
    [new] = keys_of(layer, "machine.ci")
    assert new != issued and f"Deleted: {issued}" in out and new in out
    ciphertexts = sorted(p.name for p in (layer.root / "outputs" / "security" / "machine.ci").iterdir())
    assert ciphertexts == [f"access-key-{new}.asc"]
    # The plan agrees: the user has exactly the key iamlayer holds.
    assert cli("plan", "--detailed-exitcode")[0] == 0
