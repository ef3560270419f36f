"""Onboarding secrets end to end: apply, the person's gpg decrypts, reset, rotate, leaks, crashes.

Keys are real gpg keys: jane.doe's is Curve25519 in armored form, the machine user's RSA 3072 in
base64-of-binary form (Terraform's format). Decryption is stock `gpg --decrypt` in the GNUPGHOME
holding the secret keys, as the person runs it.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from awsharness import AwsHarness, Rule
from iamlayer.secrets.passwords import check_password
from iamlayer.spec.model import PasswordPolicy
from layer import Layer, Run, killed_apply, run_cli

POLICY = PasswordPolicy(minimum_length=30, max_age_days=60, reuse_prevention=24)


def outputs(layer: Layer, user: str) -> Path:
    return layer.root / "outputs" / "security" / user


def decrypt(layer: Layer, path: Path) -> str:
    return layer.keys.gpg.decrypt(path)


def key_secret(layer: Layer) -> tuple[str, str]:
    [f] = list(outputs(layer, "machine.ci").glob("access-key-*.asc"))
    return f.name[len("access-key-") : -len(".asc")], decrypt(layer, f)


class Transcript:
    """Everything the CLI printed, for the leak scan."""

    def __init__(self) -> None:
        self.text: list[str] = []

    def run(self, layer: Layer, env: dict[str, str], *args: str) -> Run:
        r = run_cli(*args, cwd=layer.root, env=env)
        self.text += [r.out, r.err]
        assert r.code == 0, (args, r.out, r.err)
        return r


@pytest.mark.proof  # a long walk: make proof (make test keeps under 5 minutes)
def test_onboarding_reset_rotation_and_no_plaintext_anywhere(layer: Layer, aws_env: dict[str, str]) -> None:
    t = Transcript()
    t.run(layer, aws_env, "validate")
    t.run(layer, aws_env, "plan", "--json")
    t.run(layer, aws_env, "plan", "--out", "plan.json")
    t.run(layer, aws_env, "apply", "plan.json", "--auto-approve")
    t.run(layer, aws_env, "outputs")
    out = t.run(layer, aws_env, "outputs", "--json").json()
    jane = next(u for u in out["users"] if u["user"] == "jane.doe")
    assert jane["password"] is True
    assert jane["signin_url"] == f"https://{layer.project}-corp-security.signin.aws.amazon.com/console"
    [secret] = jane["secrets"]
    assert secret["fingerprint"] == layer.keys.jane_fpr
    assert secret["decrypt"] == f"gpg --decrypt {secret['path']}"
    for f in outputs(layer, "jane.doe").iterdir():
        assert f.stat().st_mode & 0o777 == 0o600

    # the person decrypts: a password that satisfies the account's policy
    pw1 = decrypt(layer, outputs(layer, "jane.doe") / "password.asc")
    assert check_password(POLICY, pw1) == [] and len(pw1) >= 30
    # the machine key's secret is the real one: it authenticates as machine.ci
    key_id, secret1 = key_secret(layer)
    ident = boto3.client("sts", aws_access_key_id=key_id, aws_secret_access_key=secret1).get_caller_identity()
    assert ident["Arn"].endswith(":user/machine.ci")

    # the person changes their password: the plan shows nothing (a create-time value)
    layer.iam("security").update_login_profile(
        UserName="jane.doe", Password="Changed-by-Jane-1234567890-abcdefgh!"
    )
    r = run_cli("plan", "--detailed-exitcode", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out

    # reset issues a new encrypted password
    t.run(layer, aws_env, "password", "reset", "jane.doe")
    pw2 = decrypt(layer, outputs(layer, "jane.doe") / "password.asc")
    assert pw2 != pw1 and check_password(POLICY, pw2) == []

    # rotation: a second key, encrypted; old one deleted only when asked; never more than two
    k1 = key_id
    k2 = t.run(layer, aws_env, "access-key", "rotate", "machine.ci", "--json").json()["access_key_id"]
    keys = layer.iam("security").list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]
    assert len(keys) == 2 and all(k["Status"] == "Active" for k in keys)
    assert len(list(outputs(layer, "machine.ci").glob("access-key-*.asc"))) == 2
    # With two keys, which one is in use is unknown: rotation refuses and names both (it used to
    # make a third key and delete both, the one in use included, printing only one of them).
    r = run_cli("access-key", "rotate", "machine.ci", "--delete-old", cwd=layer.root, env=aws_env)
    t.text += [r.out, r.err]
    assert r.code == 1 and k1 in r.err and k2 in r.err and "last used" in r.err, r.err
    assert f"iamlayer access-key retire machine.ci {k1}" in r.err
    keys = layer.iam("security").list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in keys) == sorted([k1, k2])
    # retire, without a new key: by default every key but the newest iamlayer issued
    ret = t.run(layer, aws_env, "access-key", "retire", "machine.ci", "--yes", "--json").json()
    assert [(k["access_key_id"], k["action"]) for k in ret["retired"]] == [(k1, "deleted")]
    assert ret["kept"] == [k2]
    rot = t.run(layer, aws_env, "access-key", "rotate", "machine.ci", "--delete-old", "--json").json()
    assert (rot["old_keys"], [k["access_key_id"] for k in rot["retired"]]) == ([k2], [k2])
    keys = layer.iam("security").list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [rot["access_key_id"]]
    key_id, secret3 = key_secret(layer)
    assert key_id == rot["access_key_id"]
    t.run(layer, aws_env, "access-key", "rotate", "machine.ci", "--deactivate-old")
    statuses = sorted(
        k["Status"]
        for k in layer.iam("security").list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]
    )
    assert statuses == ["Active", "Inactive"]
    secrets_now = [decrypt(layer, f) for f in outputs(layer, "machine.ci").glob("access-key-*.asc")]
    t.run(layer, aws_env, "plan")

    # the leak scan: no generated password or secret key in anything printed or written
    plaintexts = [pw1, pw2, secret1, secret3, *secrets_now]
    printed = "\n".join(t.text)
    for p in plaintexts:
        assert p not in printed
    for f in layer.root.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            for p in plaintexts:
                assert p.encode() not in data, f


def test_a_new_key_file_is_noticed_and_reset_reissues(layer: Layer, aws_env: dict[str, str]) -> None:
    assert run_cli("apply", "--auto-approve", cwd=layer.root, env=aws_env).code == 0
    g = layer.keys.gpg
    new = g.gen_key(f"Jane New <jane.new.{layer.ids['security']}@example.com>", "rsa3072", "encr")
    g.export(new, "armored", layer.root / "keys" / "jane.doe")
    r = run_cli("plan", cwd=layer.root, env=aws_env)
    assert r.code == 0
    assert "encrypted to an older key" in r.out and "iamlayer password reset jane.doe" in r.out
    r = run_cli("password", "reset", "jane.doe", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    r = run_cli("plan", cwd=layer.root, env=aws_env)
    assert "older key" not in r.out
    assert len(decrypt(layer, outputs(layer, "jane.doe") / "password.asc")) >= 30


def test_unusable_keys_fail_validation_and_nothing_is_applied(layer: Layer, aws_env: dict[str, str]) -> None:
    g = layer.keys.gpg
    sign_only = g.gen_key(f"Signer <s.{layer.ids['security']}@example.com>", "ed25519", "sign")
    g.export(sign_only, "armored", layer.root / "keys" / "jane.doe")
    expired = g.gen_key(
        f"Old <o.{layer.ids['security']}@example.com>", "rsa2048", "encr", expire="1d", past=True
    )
    g.export(expired, "base64", layer.root / "keys" / "machine.infra")
    for cmd in (["validate"], ["apply", "--auto-approve"]):
        r = run_cli(*cmd, cwd=layer.root, env=aws_env)
        assert r.code == 2, r.out + r.err
        assert ("keys/jane.doe" in r.err and "no usable encryption" in r.err.lower()) or "sign" in r.err
        assert "expired" in r.err
    assert layer.iam("security").list_users()["Users"] == []


def _killed_apply(layer: Layer, env: dict[str, str], rule: Rule, proxy: AwsHarness) -> None:
    assert killed_apply(layer.root, env, proxy, [rule]) is rule, f"apply never reached {rule.action}"


@pytest.mark.proof  # convergence under kills: make proof (make test keeps under 5 minutes)
@pytest.mark.parametrize("mode", ["hold_before", "hold_after"])
def test_killed_around_create_login_profile_converges_with_the_live_password(
    layer: Layer, aws_env: dict[str, str], mode: str
) -> None:
    """hold_before: killed after the ciphertext is written, before AWS heard of the password.
    hold_after: AWS made the password live, the process died before promoting the ciphertext.
    (A staged password AWS does not show is discarded once older than the consistency bound,
    shortened here to 3 s.)"""
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as proxy:
        env = {**aws_env, "AWS_ENDPOINT_URL": proxy.url, "IAMLAYER_CONSISTENCY_TIMEOUT": "3"}
        rule = proxy.add(Rule("CreateLoginProfile", mode))
        _killed_apply(layer, env, rule, proxy)
        folder = outputs(layer, "jane.doe")
        assert (folder / "password.asc.pending").exists()
        assert not (folder / "password.asc").exists()
        has_profile = bool(_login_profile(layer))
        assert has_profile == (mode == "hold_after")

        r = run_cli("apply", "--auto-approve", cwd=layer.root, env=env)
        assert r.code == 0, r.out + r.err
        assert not (folder / "password.asc.pending").exists()
        password = decrypt(layer, folder / "password.asc")
        # the file holds the password AWS was given: the last CreateLoginProfile the proxy forwarded
        # (hold_before: the killed run's call never reached AWS; the rerun made a new one)
        assert f"Password={password}&" in proxy.bodies["CreateLoginProfile"][-1] + "&"
        r = run_cli("plan", "--detailed-exitcode", cwd=layer.root, env=env)
        assert r.code == 0, r.out


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `root`: its content and modification time (ns)."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def test_plan_writes_nothing_and_apply_settles_a_staged_password(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    """A killed apply left a staged password that AWS made live. `plan` shows it and changes no
    file (names, contents, modification times); `apply` promotes it."""
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as proxy:
        env = {**aws_env, "AWS_ENDPOINT_URL": proxy.url}
        rule = proxy.add(Rule("CreateLoginProfile", "hold_after"))
        _killed_apply(layer, env, rule, proxy)
        [sent] = proxy.bodies["CreateLoginProfile"]
    folder = outputs(layer, "jane.doe")
    assert (folder / "password.asc.pending").exists() and _login_profile(layer) is not None
    before = snapshot(layer.root)
    for args in (["plan"], ["plan", "--json"], ["plan", "--detailed-exitcode"]):
        r = run_cli(*args, cwd=layer.root, env=aws_env)
        assert r.code in (0, 2), r.err
        assert snapshot(layer.root) == before, args
    r = run_cli("plan", cwd=layer.root, env=aws_env)
    assert "~ staged_password.jane.doe" in r.out and "interrupted apply staged" in r.out, r.out
    r = run_cli("apply", "--auto-approve", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out + r.err
    assert not (folder / "password.asc.pending").exists()
    assert f"Password={decrypt(layer, folder / 'password.asc')}&" in sent + "&"
    assert run_cli("plan", "--detailed-exitcode", cwd=layer.root, env=aws_env).code == 0


def _login_profile(layer: Layer) -> dict[str, object] | None:
    iam = layer.iam("security")
    try:
        return dict(iam.get_login_profile(UserName="jane.doe")["LoginProfile"])
    except iam.exceptions.NoSuchEntityException:
        return None


@pytest.mark.proof  # convergence under kills: make proof (make test keeps under 5 minutes)
def test_killed_after_create_access_key_replaces_the_unreadable_key(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as proxy:
        env = {**aws_env, "AWS_ENDPOINT_URL": proxy.url}
        rule = proxy.add(Rule("CreateAccessKey", "hold_after"))
        _killed_apply(layer, env, rule, proxy)
    iam = layer.iam("security")
    [orphan] = iam.list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]
    assert not list(outputs(layer, "machine.ci").glob("access-key-*.asc"))

    r = run_cli("plan", cwd=layer.root, env=aws_env)
    assert (
        f"- access_key.machine.ci/{orphan['AccessKeyId']}" in r.out
        and "made by an interrupted apply" in r.out
    )
    r = run_cli("apply", "--auto-approve", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out + r.err
    keys = iam.list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]
    assert len(keys) == 1 and keys[0]["AccessKeyId"] != orphan["AccessKeyId"]
    key_id, _ = key_secret(layer)
    assert key_id == keys[0]["AccessKeyId"]
    assert run_cli("plan", "--detailed-exitcode", cwd=layer.root, env=aws_env).code == 0


@pytest.mark.proof  # convergence under kills: make proof (make test keeps under 5 minutes)
def test_killed_twice_at_create_access_key_converges_with_one_readable_key(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    """Killed after CreateAccessKey, then killed again after the replacement's CreateAccessKey. The
    unreadable key of the first kill is deleted before the replacement is made, so there are never
    two keys without ciphertext (AWS's limit is two: every later create would fail)."""
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as proxy:
        env = {**aws_env, "AWS_ENDPOINT_URL": proxy.url}
        for _ in range(2):
            _killed_apply(layer, env, proxy.add(Rule("CreateAccessKey", "hold_after")), proxy)
    iam = layer.iam("security")
    [second_orphan] = iam.list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]
    assert not list(outputs(layer, "machine.ci").glob("access-key-*.asc"))

    r = run_cli("apply", "--auto-approve", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out + r.err
    [live] = iam.list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]
    assert live["AccessKeyId"] != second_orphan["AccessKeyId"]
    key_id, secret = key_secret(layer)
    assert key_id == live["AccessKeyId"]
    ident = boto3.client("sts", aws_access_key_id=key_id, aws_secret_access_key=secret).get_caller_identity()
    assert ident["Arn"].endswith(":user/machine.ci")
    assert run_cli("plan", "--detailed-exitcode", cwd=layer.root, env=aws_env).code == 0


@pytest.mark.proof  # convergence under kills: make proof (make test keeps under 5 minutes)
@pytest.mark.parametrize(
    ("action", "edit"),
    [
        # jane.doe leaves: her password and access key go, then the user
        ("DeleteUser", ("  jane.doe:   {pgp_key: keys/jane.doe, groups: [devops], access_key: true}\n", "")),
        # jane.doe keeps her access key but loses the console
        (
            "DeleteLoginProfile",
            ("groups: [devops], access_key: true}", "groups: [devops], console: false, access_key: true}"),
        ),
    ],
)
def test_killed_right_after_a_credential_delete_leaves_no_ciphertext_behind(
    layer: Layer, aws_env: dict[str, str], action: str, edit: tuple[str, str]
) -> None:
    """Killed the moment AWS applied DeleteUser (DeleteLoginProfile): no later plan would see the
    gone credential (the user is in neither the spec nor AWS; the spec asks for no console), so
    its ciphertext must already be gone when the call is sent. The rerun converges."""
    layer.edit("groups: [devops]}", "groups: [devops], access_key: true}")
    r = run_cli("apply", "--auto-approve", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out + r.err
    folder = outputs(layer, "jane.doe")
    assert (folder / "password.asc").exists() and list(folder.glob("access-key-*.asc"))
    layer.edit(*edit)
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as proxy:
        env = {**aws_env, "AWS_ENDPOINT_URL": proxy.url}
        _killed_apply(layer, env, proxy.add(Rule(action, "hold_after")), proxy)
    assert not (folder / "password.asc").exists()
    assert bool(list(folder.glob("access-key-*.asc"))) == (action == "DeleteLoginProfile")
    r = run_cli("apply", "--auto-approve", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out + r.err
    assert not (folder / "password.asc").exists()
    assert run_cli("plan", "--detailed-exitcode", cwd=layer.root, env=aws_env).code == 0


def test_a_create_whose_answer_was_lost_keeps_the_password_it_made_live(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    """AWS applied CreateLoginProfile, but iamlayer got a 500. iamlayer sends the same password
    again (never botocore, which would resend blindly); the EntityAlreadyExists it gets is its own
    password going live, so the ciphertext is kept and the apply succeeds."""
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as proxy:
        env = {**aws_env, "AWS_ENDPOINT_URL": proxy.url}
        proxy.add(Rule("CreateLoginProfile", "applied_then_500", times=1))
        r = run_cli("apply", "--auto-approve", cwd=layer.root, env=env)
        assert r.code == 0, r.out + r.err
        first, again = proxy.bodies["CreateLoginProfile"]
        assert first == again  # the same password both times
    folder = outputs(layer, "jane.doe")
    password = decrypt(layer, folder / "password.asc")
    assert f"Password={password}&" in first + "&"
    assert not (folder / "password.asc.pending").exists()
    assert run_cli("plan", "--detailed-exitcode", cwd=layer.root, env=aws_env).code == 0


def test_a_removed_ciphertext_is_noted_not_rotated(layer: Layer, aws_env: dict[str, str]) -> None:
    """The operator stored the machine key's secret in CI and deleted the .asc: the key stays."""
    assert run_cli("apply", "--auto-approve", cwd=layer.root, env=aws_env).code == 0
    [f] = list(outputs(layer, "machine.ci").glob("access-key-*.asc"))
    key_id = f.name[len("access-key-") : -len(".asc")]
    f.unlink()
    r = run_cli("plan", "--detailed-exitcode", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out
    assert f"access key(s) {key_id} have no encrypted secret" in r.out
    assert "iamlayer access-key rotate machine.ci --delete-old" in r.out
    keys = layer.iam("security").list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [key_id]
