"""The person's path, proven call by call: from their encrypted access key to DevOps in apps-prd.

Every AWS API call a new person makes is recorded for real: `iamlayer onboard` and the real `aws`
CLI run as subprocesses, as the person runs them (their own HOME, their own gpg keyring, no AWS
credentials to start with), against the emulator through tests/awsharness.py. The proxy records
each request (action, signing access key, parameters, time) and learns from the answers of
GetSessionToken and AssumeRole which temporary keys carry MFA and since when. Each call becomes a
request (principal, action, resource ARN, MFA context of that moment) and is evaluated against the
policies iamlayer applied, read back from the emulator, by every evaluator of
tests/policy_oracle.py. The emulator enforces no policy: this evaluation is what says whether AWS
would let the person through. A step AWS would deny fails the test.

The path counted: (1) `iamlayer onboard --user jane.doe`, (2) the export line it prints,
(3) `aws sts get-caller-identity --profile acme-apps-prd-devops` (the aws CLI asks for the MFA
code because the role profile has mfa_serial). Before (1) the person sent their public key; the
operator set `access_key: true` for them and applied.

Negative controls (each shows the evaluation can fail): the same walk without MFA is denied at
AssumeRole; a person outside devops is denied DevOps; the self-management policy iamlayer rendered
before issue 9 denies steps of the walk of a user with a path and of the clean-up after a
mistyped code.

Modelling choice, from AWS's documentation of MFA-protected API access: an sts:AssumeRole (or
GetSessionToken) request that carries SerialNumber and TokenCode is evaluated with
aws:MultiFactorAuthPresent "true" and aws:MultiFactorAuthAge 0 for every policy of that request,
the caller's and the role's trust policy; other requests signed with a long-term key carry no MFA
key at all; requests signed with a temporary key carry the MFA context of the session, aged.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyotp
import pytest

from awsharness import AwsHarness, Call, Rule, Session
from gpgkeys import GpgHome, gpg_available
from iamlayer.sandbox.emulator import Emulator
from iamlayer.state.normalize import normalize
from layer import fresh_account_ids, run_cli, session_in
from policy_history import BEFORE_ISSUE_9
from policy_oracle import EVALUATORS, Decision, Identity, Request, World

pytestmark = pytest.mark.skipif(not gpg_available(), reason="needs gpg, as the person decrypts with it")

VENV_BIN = Path(sys.executable).parent
AWS = str(VENV_BIN / "aws")
PEOPLE = ("jane.doe", "ana.lopez", "sam.taylor")

SPEC = """\
project: acme
project_long: acme-corp
region: us-east-1
accounts:
  security: {{id: "{security}"}}
  shared:   {{id: "{shared}"}}
  apps-prd: {{id: "{prd}"}}
people_account: security
roles:
  DevOps:  {{accounts: [shared, apps-prd], mfa_max_age: 43200,
            policies: [arn:aws:iam::aws:policy/AdministratorAccess]}}
  Auditor: {{accounts: all, mfa_max_age: 43200, policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}}
groups:
  devops:   {{assume: [DevOps], self_management: enforce_mfa}}
  auditors: {{assume: [Auditor], self_management: enforce_mfa}}
users:
  jane.doe:   {{pgp_key: keys/jane.doe, groups: [devops], access_key: true}}
  ana.lopez:  {{pgp_key: keys/ana.lopez, groups: [devops], access_key: true, console: false,
               path: /people/}}
  sam.taylor: {{pgp_key: keys/sam.taylor, groups: [auditors], access_key: true, console: false}}
"""


@dataclass
class Layer:
    root: Path
    ids: dict[str, str]
    gpg: GpgHome


@pytest.fixture
def layer(tmp_path: Path, aws_env: dict[str, str]) -> Iterator[Layer]:
    """The layer applied by the operator, with one real gpg key per person."""
    gpg = GpgHome(tmp_path / "gnupg")
    root = tmp_path / "layer"
    (root / "keys").mkdir(parents=True)
    for name in PEOPLE:
        fpr = gpg.gen_key(f"{name} <{name}@example.com>", "ed25519", "sign")
        gpg.add_subkey(fpr, "cv25519", "encr")
        gpg.export(fpr, "armored", root / "keys" / name)
    ids = dict(zip(("security", "shared", "apps-prd"), fresh_account_ids(3), strict=True))
    (root / "iamlayer.yaml").write_text(
        SPEC.format(security=ids["security"], shared=ids["shared"], prd=ids["apps-prd"])
    )
    r = run_cli("apply", "--auto-approve", cwd=root, env=aws_env)
    assert r.code == 0, r.out + r.err
    try:
        yield Layer(root, ids, gpg)
    finally:
        gpg.close()


@pytest.fixture
def proxy(emulator: Emulator) -> Iterator[AwsHarness]:
    with AwsHarness(emulator.url) as p:
        yield p


def person_env(tmp_path: Path, layer: Layer, proxy: AwsHarness) -> dict[str, str]:
    """A new person's shell: no AWS credentials, their own HOME and gpg keyring."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMLAYER_"))}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        GNUPGHOME=str(layer.gpg.home),
        AWS_ENDPOINT_URL=proxy.url,  # the sandbox convention; a person on AWS has no such line
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        COLUMNS="200",
    )
    return env


def run(argv: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """A command as the person runs it; no controlling terminal, so prompts read stdin."""
    return subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
        check=False,
    )


@dataclass
class Onboarded:
    code: int
    out: str
    err: str
    totp: pyotp.TOTP | None  # the device enrolled in this run, if any


def onboard(
    layer: Layer,
    env: dict[str, str],
    user: str,
    *extra: str,
    codes: Callable[[pyotp.TOTP], str] | None = None,
) -> Onboarded:
    """`iamlayer onboard --user USER --plaintext` (the key in the credentials file, as this file's
    walks were recorded; tests/e2e/test_people_keys.py walks the keyring and gpg ways), answering
    the two MFA codes from the seed it shows."""
    return enrolling(
        ["onboard", "--user", user, "--show-secret", "--plaintext", *extra], env, layer.root, codes
    )


def right_codes(totp: pyotp.TOTP) -> str:
    return f"{totp.now()}\n{totp.at(time.time(), counter_offset=1)}\n"


def enrolling(
    args: list[str], env: dict[str, str], cwd: Path, codes: Callable[[pyotp.TOTP], str] | None = None
) -> Onboarded:
    """An iamlayer command that may enrol an MFA device (with --show-secret): the codes it reads
    are `codes(totp)` of the seed it shows, by default two right consecutive ones."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "iamlayer", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    lines, totp = [], None
    for line in proc.stderr:
        lines.append(line)
        if "otpauth://" in line:
            parsed = pyotp.parse_uri(line[line.index("otpauth://") :].strip())
            assert isinstance(parsed, pyotp.TOTP)
            totp = parsed
            break
    answers = (codes or right_codes)(totp) if totp else ""
    out, err = proc.communicate(answers, timeout=120)
    return Onboarded(proc.returncode, out, "".join(lines) + err, totp)


def assert_seed_nowhere(seed: str, *roots: Path) -> None:
    """No file under `roots` holds the MFA seed, as text or inside a QR code image."""
    assert seed
    for root in roots:
        for f in root.rglob("*"):
            if f.is_file():
                data = f.read_bytes()
                assert seed.encode() not in data, f
                assert not data.startswith(b"\x89PNG"), f"{f}: a QR code image holding the seed"


def exported(env: dict[str, str], export_line: str) -> dict[str, str]:
    """The person pastes the export line into their shell."""
    assert export_line.startswith("export "), export_line
    new = dict(env)
    for part in shlex.split(export_line[len("export ") :]):
        k, _, v = part.partition("=")
        new[k] = v
    return new


# -- from recorded calls to evaluated requests ------------------------------------------------


@dataclass(frozen=True)
class Step:
    call: Call
    request: Request


def _user_arn_of(call: Call, principal: str, users: dict[str, str]) -> str:
    name = call.params.get("UserName")
    return users[name] if name else principal


def resource_of(call: Call, principal: str, account: str, users: dict[str, str]) -> str:
    """The resource ARN AWS authorizes `call` against (IAM service authorization reference)."""
    own_user = (
        "iam:ListMFADevices",
        "iam:EnableMFADevice",
        "iam:DeactivateMFADevice",
        "iam:ResyncMFADevice",
        "iam:GetUser",
        "iam:ChangePassword",
        "iam:GetLoginProfile",
        "iam:ListAccessKeys",
        "iam:CreateAccessKey",
        "iam:GetMFADevice",
    )
    name = call.name
    if name in ("sts:GetCallerIdentity", "sts:GetSessionToken", "iam:ListVirtualMFADevices"):
        return "*"
    if name == "sts:AssumeRole":
        return call.params["RoleArn"]
    if name == "iam:CreateVirtualMFADevice":
        return (
            f"arn:aws:iam::{account}:mfa{call.params.get('Path', '/')}{call.params['VirtualMFADeviceName']}"
        )
    if name == "iam:DeleteVirtualMFADevice":
        return call.params["SerialNumber"]
    if name in own_user:
        return _user_arn_of(call, principal, users)
    raise AssertionError(f"the walk made {name}, whose resource this test does not know yet: add it here")


def to_steps(
    calls: list[Call], sessions: dict[str, Session], keys: dict[str, str], account: str, users: dict[str, str]
) -> list[Step]:
    """Each recorded call as (principal, action, resource, MFA context at that moment)."""
    steps = []
    for call in calls:
        key = call.access_key
        session = sessions.get(key)
        if key in keys:
            principal, mfa, since = keys[key], False, None
        elif session is not None:
            principal = session.arn or _principal_of_session(session, sessions, keys)
            mfa, since = session.mfa, session.mfa_time
        else:
            raise AssertionError(f"{call.name} was signed by {key!r}, which is nobody's key in this walk")
        with_code = call.params.get("SerialNumber") and call.params.get("TokenCode")
        if call.action in ("AssumeRole", "GetSessionToken") and with_code:
            mfa, since = True, call.time  # the code is checked in this very request
        age = int(call.time - since) if mfa and since is not None else None
        resource = resource_of(call, principal, account, users)
        session_name = call.params.get("RoleSessionName") if call.action == "AssumeRole" else None
        steps.append(Step(call, Request(principal, call.name, resource, mfa, age, session_name)))
    return steps


def _principal_of_session(session: Session, sessions: dict[str, Session], keys: dict[str, str]) -> str:
    if session.signer in keys:
        return keys[session.signer]
    return _principal_of_session(sessions[session.signer], sessions, keys)


def read_world(layer: Layer, role_arns: set[str]) -> tuple[World, dict[str, str], dict[str, str]]:
    """The policies iamlayer applied, read back from the emulator; users' ARNs; access keys' owners."""
    iam = session_in(layer.ids["security"]).client("iam")
    details = iam.get_account_authorization_details()
    managed = {
        p["Arn"]: next(v["Document"] for v in p["PolicyVersionList"] if v["IsDefaultVersion"])
        for p in details["Policies"]
    }

    def attached(items: list[dict[str, str]]) -> list[tuple[str, Any]]:
        out = []
        for a in items:
            doc = managed.get(a["PolicyArn"])
            if doc is None:
                version = iam.get_policy(PolicyArn=a["PolicyArn"])["Policy"]["DefaultVersionId"]
                doc = iam.get_policy_version(PolicyArn=a["PolicyArn"], VersionId=version)["PolicyVersion"][
                    "Document"
                ]
            out.append((a["PolicyArn"], normalize(doc)))
        return out

    groups = {
        g["GroupName"]: (
            g["Arn"],
            tuple(
                [(p["PolicyName"], normalize(p["PolicyDocument"])) for p in g.get("GroupPolicyList", [])]
                + attached(g.get("AttachedManagedPolicies", []))
            ),
        )
        for g in details["GroupDetailList"]
    }
    world, users, keys = World(), {}, {}
    for u in details["UserDetailList"]:
        own = [(p["PolicyName"], normalize(p["PolicyDocument"])) for p in u.get("UserPolicyList", [])]
        own += attached(u.get("AttachedManagedPolicies", []))
        world.identities[u["Arn"]] = Identity(
            u["Arn"], tuple(own), tuple(groups[g] for g in u.get("GroupList", []))
        )
        users[u["UserName"]] = u["Arn"]
        for k in iam.list_access_keys(UserName=u["UserName"])["AccessKeyMetadata"]:
            keys[k["AccessKeyId"]] = u["Arn"]
    for arn in role_arns:
        account, name = arn.split(":")[4], arn.rsplit("/", 1)[-1]
        role = session_in(account).client("iam").get_role(RoleName=name)["Role"]
        world.trust[arn] = normalize(role["AssumeRolePolicyDocument"])
    return world, users, keys


def walk(layer: Layer, proxy: AwsHarness) -> tuple[World, list[Step]]:
    role_arns = {c.params["RoleArn"] for c in proxy.calls if c.action == "AssumeRole"}
    world, users, keys = read_world(layer, role_arns)
    return world, to_steps(proxy.calls, proxy.sessions, keys, layer.ids["security"], users)


def decide(steps: list[Step], world: World, evaluator: str) -> list[tuple[Step, Decision]]:
    return [(s, EVALUATORS[evaluator](s.request, world)) for s in steps]


def table(decided: list[tuple[Step, Decision]]) -> str:
    """The walk as a table: what the person ran, each call, who made it, with which MFA, and AWS's answer."""
    rows = ["| # | command | call | principal | resource | MFA (age s) | decision | why |", "|" + "---|" * 8]
    for i, (s, d) in enumerate(decided, 1):
        r = s.request
        who = r.principal.split(":", 5)[-1]
        mfa = f"yes ({r.mfa_age})" if r.mfa else "no"
        verdict = "ALLOW" if d.allowed else "DENY"
        rows.append(
            f"| {i} | {s.call.label} | {r.action} | {who} | {r.resource} | {mfa} | {verdict} | {d.why} |"
        )
    return "\n".join(rows)


def without_mfa(steps: list[Step]) -> list[Step]:
    return [replace(s, request=replace(s.request, mfa=False, mfa_age=None)) for s in steps]


def with_self_management(world: World, doc: dict[str, Any]) -> World:
    """`world` with every group's self-management policy replaced by `doc`."""
    out = World(trust=dict(world.trust))
    for arn, ident in world.identities.items():
        groups = tuple(
            (g, tuple((n, doc if n == "self-management" else d) for n, d in pols)) for g, pols in ident.groups
        )
        out.identities[arn] = replace(ident, groups=groups)
    return out


def assert_all_allowed(decided: list[tuple[Step, Decision]]) -> None:
    denied = [s for s, d in decided if not d.allowed]
    assert not denied, "AWS would deny steps of the person's path:\n" + table(decided)


def print_table(title: str, decided: list[tuple[Step, Decision]]) -> None:
    print(f"\n### {title}\n\n{table(decided)}\n")  # shown with pytest -s; the report quotes it


def step_names(steps: list[Step], label: str) -> list[str]:
    return [s.request.action for s in steps if s.call.label == label]


def file_state(*paths: Path) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}


# -- the walks ---------------------------------------------------------------------------------


def test_a_person_reaches_devops_in_apps_prd_in_three_commands(
    layer: Layer, proxy: AwsHarness, tmp_path: Path, aws_env: dict[str, str]
) -> None:
    # What the operator hands out says how a CLI person sets up: one command in the layer folder.
    r = run_cli("outputs", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    jane = next(u for u in r.json()["users"] if u["user"] == "jane.doe")
    assert jane["onboard"] == "iamlayer onboard --user jane.doe" and len(jane["access_key_ids"]) == 1
    r = run_cli("outputs", "--user", "jane.doe", cwd=layer.root, env=aws_env)
    assert "CLI setup:   iamlayer onboard --user jane.doe" in r.out

    env = person_env(tmp_path, layer, proxy)
    prd = layer.ids["apps-prd"]

    proxy.label = "1 iamlayer onboard"
    first = onboard(layer, env, "jane.doe")
    assert first.code == 0, first.err
    assert first.totp is not None and "Scan this QR code" in first.err
    *_, export_line, next_command = first.out.strip().splitlines()
    aws_dir = tmp_path / "home" / ".aws" / "acme"
    assert export_line == (
        f"export AWS_CONFIG_FILE={aws_dir / 'config'} AWS_SHARED_CREDENTIALS_FILE={aws_dir / 'credentials'}"
    )
    assert next_command == "aws sts get-caller-identity --profile acme-shared-devops"
    config, creds = aws_dir / "config", aws_dir / "credentials"
    assert f"{config}: written" in first.out and f"{creds}: written" in first.out
    assert not (aws_dir / "config.bak").exists()  # written once, not rewritten after enrolment
    for f in (config, creds):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    # The seed is shown on screen only: no QR code file next to the key it protects, or anywhere.
    assert "saved as" not in first.err
    assert_seed_nowhere(first.totp.secret, tmp_path / "home", layer.root)
    [asc] = (layer.root / "outputs" / "security" / "jane.doe").glob("access-key-*.asc")
    secret = layer.gpg.decrypt(asc)
    assert secret in creds.read_text()  # the only place the secret is written
    assert secret not in first.out + first.err and secret not in config.read_text()
    assert f"mfa_serial = arn:aws:iam::{layer.ids['security']}:mfa/jane.doe" in config.read_text()

    proxy.label = "2 export (no AWS call)"
    env = exported(env, export_line)

    proxy.label = "3 aws sts get-caller-identity"
    r = run(
        [AWS, "sts", "get-caller-identity", "--profile", "acme-apps-prd-devops"],
        env,
        tmp_path,
        f"{first.totp.now()}\n",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Arn"] == f"arn:aws:sts::{prd}:assumed-role/DevOps/jane.doe"

    # Rerunning changes nothing and asks nothing: no decryption, no enrolment, files untouched.
    before = file_state(config, creds)
    proxy.label = "rerun: iamlayer onboard"
    again = onboard(layer, env, "jane.doe", "--json")
    assert again.code == 0, again.err
    assert again.totp is None and file_state(config, creds) == before
    summary = json.loads(again.out)
    assert (summary["decrypted"], summary["mfa_enrolled"]) == (False, False)

    # The other way to the same role: one MFA code per session for every role (GetSessionToken).
    proxy.label = "alt: iamlayer exec"
    r = run(
        [
            sys.executable,
            "-m",
            "iamlayer",
            "exec",
            "acme-apps-prd-devops",
            "--",
            AWS,
            "sts",
            "get-caller-identity",
        ],
        env,
        tmp_path,
        f"{first.totp.now()}\n",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Account"] == prd

    world, steps = walk(layer, proxy)
    assert step_names(steps, "1 iamlayer onboard") == [
        "sts:GetCallerIdentity",
        "iam:ListMFADevices",
        "iam:CreateVirtualMFADevice",
        "iam:EnableMFADevice",
    ]
    assert step_names(steps, "2 export (no AWS call)") == []
    assert step_names(steps, "3 aws sts get-caller-identity") == ["sts:AssumeRole", "sts:GetCallerIdentity"]
    assert step_names(steps, "rerun: iamlayer onboard") == ["sts:GetCallerIdentity", "iam:ListMFADevices"]
    assume = next(s for s in steps if s.request.action == "sts:AssumeRole")
    assert assume.request.mfa and assume.request.mfa_age == 0
    assert assume.request.principal == f"arn:aws:iam::{layer.ids['security']}:user/jane.doe"
    chained = [
        s for s in steps if s.call.label == "alt: iamlayer exec" and s.request.action == "sts:AssumeRole"
    ]
    assert chained and all(s.request.mfa and s.request.mfa_age is not None for s in chained)
    for evaluator in EVALUATORS:
        decided = decide(steps, world, evaluator)
        print_table(f"jane.doe (no path), evaluated by {evaluator}", decided)
        assert_all_allowed(decided)
        # Negative control: the same walk without MFA is denied, exactly where roles are assumed.
        bare = decide(without_mfa(steps), world, evaluator)
        print_table(f"jane.doe, the same walk without MFA, evaluated by {evaluator}", bare)
        denied = [s.request.action for s, d in bare if not d.allowed]
        assert denied and set(denied) == {"sts:AssumeRole"}, table(bare)


def test_a_user_with_a_path_recovers_from_a_mistyped_code(
    layer: Layer, proxy: AwsHarness, tmp_path: Path
) -> None:
    env = person_env(tmp_path, layer, proxy)
    # AWS rejects a mistyped code; the emulator accepts any, so the proxy answers as AWS does.
    proxy.add(
        Rule(
            "EnableMFADevice",
            "error",
            code="InvalidAuthenticationCode",
            message="Authentication code for device is not valid.",
            status=403,
            times=1,
        )
    )
    proxy.label = "1 iamlayer onboard (code mistyped)"
    failed = onboard(layer, env, "ana.lopez")
    assert failed.code == 1 and "InvalidAuthenticationCode" in failed.err, failed.err
    leftovers = sorted(p.name for p in (tmp_path / "home" / ".aws").rglob("*") if p.is_file())
    assert leftovers == []  # nothing half-done: no profiles, and no QR code of a deleted device
    proxy.label = "1' iamlayer onboard (again)"
    ok = onboard(layer, env, "ana.lopez")
    assert ok.code == 0 and ok.totp is not None, ok.err
    *_, export_line, _ = ok.out.strip().splitlines()
    env = exported(env, export_line)
    proxy.label = "3 aws sts get-caller-identity"
    r = run(
        [AWS, "sts", "get-caller-identity", "--profile", "acme-apps-prd-devops"],
        env,
        tmp_path,
        f"{ok.totp.now()}\n",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Arn"].endswith(":assumed-role/DevOps/ana.lopez")

    world, steps = walk(layer, proxy)
    ana = f"arn:aws:iam::{layer.ids['security']}:user/people/ana.lopez"
    assert {s.request.principal for s in steps if s.request.action.startswith("iam:")} == {ana}
    assert step_names(steps, "1 iamlayer onboard (code mistyped)") == [
        "sts:GetCallerIdentity",
        "iam:ListMFADevices",
        "iam:CreateVirtualMFADevice",
        "iam:EnableMFADevice",
        "iam:DeleteVirtualMFADevice",  # the clean-up, without MFA: one's own unassigned device
    ]
    for evaluator in EVALUATORS:
        decided = decide(steps, world, evaluator)
        print_table(f"ana.lopez (path /people/), one mistyped code, evaluated by {evaluator}", decided)
        assert_all_allowed(decided)
        # Negative control: under the policy iamlayer rendered before issue 9, this walk fails.
        old = decide(steps, with_self_management(world, BEFORE_ISSUE_9), evaluator)
        print_table(f"ana.lopez under the self-management policy before issue 9 ({evaluator})", old)
        denied = {s.request.action for s, d in old if not d.allowed}
        assert {"iam:ListMFADevices", "iam:EnableMFADevice", "iam:DeleteVirtualMFADevice"} <= denied, table(
            old
        )


def test_a_person_outside_devops_is_denied_devops(layer: Layer, proxy: AwsHarness, tmp_path: Path) -> None:
    env = person_env(tmp_path, layer, proxy)
    proxy.label = "iamlayer onboard"
    sam = onboard(layer, env, "sam.taylor")
    assert sam.code == 0 and sam.totp is not None, sam.err
    *_, export_line, next_command = sam.out.strip().splitlines()
    assert next_command == "aws sts get-caller-identity --profile acme-security-auditor"
    env = exported(env, export_line)
    prd = layer.ids["apps-prd"]
    proxy.label = "aws sts get-caller-identity (Auditor)"
    r = run(
        [AWS, "sts", "get-caller-identity", "--profile", "acme-apps-prd-auditor"],
        env,
        tmp_path,
        f"{sam.totp.now()}\n",
    )
    assert r.returncode == 0, r.stderr
    proxy.label = "aws sts assume-role DevOps"
    serial = f"arn:aws:iam::{layer.ids['security']}:mfa/sam.taylor"
    devops = f"arn:aws:iam::{prd}:role/DevOps"
    argv = [AWS, "sts", "assume-role", "--role-arn", devops, "--role-session-name", "sam.taylor"]
    argv += ["--serial-number", serial, "--token-code", sam.totp.now(), "--profile", "acme-security"]
    r = run(argv, env, tmp_path)
    assert r.returncode == 0, r.stderr  # the emulator lets it through: it enforces no policy

    world, steps = walk(layer, proxy)
    for evaluator in EVALUATORS:
        decided = decide(steps, world, evaluator)
        print_table(f"sam.taylor (auditors) tries DevOps, evaluated by {evaluator}", decided)
        verdicts = {(s.call.label, s.request.action, s.request.resource): d for s, d in decided}
        denied = verdicts[("aws sts assume-role DevOps", "sts:AssumeRole", devops)]
        assert not denied.allowed, denied.why
        others = [d for (label, *_), d in verdicts.items() if label != "aws sts assume-role DevOps"]
        assert others and all(d.allowed for d in others), table(decided)


def test_the_console_path_order_works_and_the_old_order_does_not() -> None:
    """The console path cannot be recorded (no console here): its calls, in the README's order.

    Sign in and set the password (no MFA yet), enrol MFA in the console (device named after the
    user), sign in again with MFA, then create an access key. Creating the key before MFA, the
    order the README used to give, is denied.
    """
    from iamlayer.plan.desired import self_management_policy
    from iamlayer.spec.model import SelfManagement

    account = "222222222222"
    user = f"arn:aws:iam::{account}:user/people/lee.chan"
    mfa = f"arn:aws:iam::{account}:mfa/lee.chan"
    doc = self_management_policy(SelfManagement.ENFORCE_MFA)
    world = World(
        {user: Identity(user, (), ((f"arn:aws:iam::{account}:group/devops", (("self-management", doc),)),))}
    )
    path: list[tuple[str, str, bool]] = [
        ("iam:GetAccountPasswordPolicy", "*", False),
        ("iam:ChangePassword", user, False),
        ("iam:GetUser", user, False),
        ("iam:ListMFADevices", user, False),
        ("iam:CreateVirtualMFADevice", mfa, False),
        ("iam:EnableMFADevice", user, False),
        ("iam:ListAccessKeys", user, True),
        ("iam:CreateAccessKey", user, True),
    ]
    for name, evaluate in EVALUATORS.items():
        for action, resource, with_mfa in path:
            d = evaluate(Request(user, action, resource, with_mfa, 60 if with_mfa else None), world)
            assert d.allowed, (name, action, d.why)
        early = evaluate(Request(user, "iam:CreateAccessKey", user, False), world)
        assert not early.allowed, (name, early.why)


def test_onboard_with_a_secret_key_file_and_its_errors(
    layer: Layer, proxy: AwsHarness, tmp_path: Path
) -> None:
    env = person_env(tmp_path, layer, proxy)
    r = run([sys.executable, "-m", "iamlayer", "onboard", "--user", "jane.do"], env, layer.root)
    assert r.returncode == 1 and "did you mean 'jane.doe'" in r.stderr, r.stderr
    outputs = layer.root / "outputs" / "security"
    for f in (outputs / "ana.lopez").glob("access-key-*.asc"):
        f.rename(tmp_path / f.name)  # as if the operator never issued ana a key
    r = run([sys.executable, "-m", "iamlayer", "onboard", "--user", "ana.lopez"], env, layer.root)
    assert r.returncode == 1 and "no access key was issued to ana.lopez" in r.stderr, r.stderr
    assert "access_key: true" in r.stderr and "credentials configure" in r.stderr
    assert not (tmp_path / "home" / ".aws").exists()  # nothing written

    # Without a gpg keyring, with the exported secret key instead (as `iamlayer decrypt` accepts).
    fpr = layer.gpg.fingerprint("jane.doe")
    key_file = layer.gpg.export_secret(fpr, tmp_path / "jane-secret.asc")
    empty = tmp_path / "empty-gnupg"
    empty.mkdir(mode=0o700)
    done = onboard(
        layer, {**env, "GNUPGHOME": str(empty)}, "jane.doe", "--secret-key", str(key_file), "--json"
    )
    assert done.code == 0, done.err
    summary = json.loads(done.out)
    assert summary["decrypted"] is True and summary["mfa_enrolled"] is True
    [asc] = (outputs / "jane.doe").glob("access-key-*.asc")
    secret = layer.gpg.decrypt(asc)
    assert summary["access_key_id"] in asc.name and secret not in done.out + done.err
    assert summary["export_line"].startswith("export AWS_CONFIG_FILE=")


def _decrypted_key(layer: Layer, user: str) -> dict[str, str]:
    [asc] = (layer.root / "outputs" / "security" / user).glob("access-key-*.asc")
    key_id = asc.name[len("access-key-") : -len(".asc")]
    return {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": layer.gpg.decrypt(asc)}


def test_mfa_enable_writes_the_seed_only_to_the_png_asked_for(
    layer: Layer, proxy: AwsHarness, tmp_path: Path
) -> None:
    """Issue 18 item 3: by default the QR code is shown, never saved (it used to land next to the
    long-term key, in the profiles folder); `--png FILE` replaces FILE atomically, mode 0600."""
    from iamlayer.profiles.mfa import qr_png

    env = person_env(tmp_path, layer, proxy)
    aws_dir = tmp_path / "home" / ".aws" / "acme"
    aws_dir.mkdir(parents=True)
    as_jane = {**env, **_decrypted_key(layer, "jane.doe"), "AWS_CONFIG_FILE": str(aws_dir / "config")}
    jane = enrolling(["mfa", "enable", "--show-secret", "--json"], as_jane, tmp_path)
    assert jane.code == 0 and jane.totp is not None, jane.err
    assert json.loads(jane.out)["png"] is None and "saved as" not in jane.err
    assert "Scan this QR code" in jane.err
    assert_seed_nowhere(jane.totp.secret, tmp_path / "home", layer.root, tmp_path)

    # Asked for: the file is replaced (a new inode, never rewritten in place), 0600 from the start.
    png = tmp_path / "qr" / "sam.png"
    png.parent.mkdir()
    png.write_text("an older file, readable by all")
    png.chmod(0o644)
    old_inode = png.stat().st_ino
    as_sam = {**env, **_decrypted_key(layer, "sam.taylor")}
    sam = enrolling(["mfa", "enable", "--show-secret", "--png", str(png), "--json"], as_sam, tmp_path)
    assert sam.code == 0 and sam.totp is not None, sam.err
    summary = json.loads(sam.out)
    assert summary["png"] == str(png) and f"saved as {png}" in sam.err
    assert stat.S_IMODE(png.stat().st_mode) == 0o600 and png.stat().st_ino != old_inode
    assert png.read_bytes() == qr_png(summary["otpauth_uri"])
    assert [p.name for p in png.parent.iterdir()] == ["sam.png"]  # no temporary file left


def test_onboard_checks_the_codes_against_the_seed_it_holds(
    layer: Layer, proxy: AwsHarness, tmp_path: Path
) -> None:
    """Issue 18 P3: the emulator accepts any code, so a wrong one used to enable the device. Codes
    the seed did not make are asked again and never sent; three wrong pairs end the enrolment."""
    env = person_env(tmp_path, layer, proxy)

    def far(totp: pyotp.TOTP) -> str:  # consecutive codes of the right device, an hour off
        return f"{totp.at(time.time(), counter_offset=120)}\n{totp.at(time.time(), counter_offset=121)}\n"

    proxy.label = "wrong codes"
    failed = onboard(layer, env, "ana.lopez", codes=lambda t: far(t) * 3)
    assert failed.code == 1, failed.out + failed.err
    assert "not consecutive codes of the device" in failed.err and "Try 3 of 3" in failed.err
    actions = [c.action for c in proxy.calls if c.label == "wrong codes"]
    assert "EnableMFADevice" not in actions and actions[-1] == "DeleteVirtualMFADevice", actions
    iam = session_in(layer.ids["security"]).client("iam")
    assert iam.list_mfa_devices(UserName="ana.lopez")["MFADevices"] == []
    assert not (tmp_path / "home" / ".aws").exists()  # nothing written

    proxy.label = "one wrong pair, then right"
    ok = onboard(layer, env, "ana.lopez", codes=lambda t: far(t) + right_codes(t))
    assert ok.code == 0, ok.err
    assert "Try 2 of 3" in ok.err
    actions = [c.action for c in proxy.calls if c.label == "one wrong pair, then right"]
    assert actions.count("EnableMFADevice") == 1, actions
    [device] = iam.list_mfa_devices(UserName="ana.lopez")["MFADevices"]
    assert device["SerialNumber"].endswith(":mfa/ana.lopez")


def test_a_bare_whoami_after_onboarding_shows_the_person(
    layer: Layer, proxy: AwsHarness, tmp_path: Path, aws_env: dict[str, str]
) -> None:
    """Issue 18 P3: `iamlayer whoami` with no --profile failed after onboarding (no default
    profile), and in the sandbox showed the operator's keys ("user moto"), not the person."""
    env = person_env(tmp_path, layer, proxy)
    done = onboard(layer, env, "sam.taylor")
    assert done.code == 0, done.err
    *_, export_line, _ = done.out.strip().splitlines()
    sam = f"arn:aws:iam::{layer.ids['security']}:user/sam.taylor"
    operator = {k: aws_env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    shells = {
        "after the export line": exported(env, export_line),
        "with the sandbox's operator keys too": {**exported(env, export_line), **operator},
        "before the export line": env,  # found in ~/.aws/acme/
    }
    for shell, shell_env in shells.items():
        r = run([sys.executable, "-m", "iamlayer", "whoami", "--json"], shell_env, tmp_path)
        assert r.returncode == 0, (shell, r.stderr)
        who = json.loads(r.stdout)
        assert (who["arn"], who["type"], who["profile"]) == (sam, "user", "acme-security"), (shell, who)
        assert ("AWS_ACCESS_KEY_ID is also set" in r.stderr) == ("operator" in shell), (shell, r.stderr)

    # Two projects' profiles and nothing exported: it names both instead of guessing.
    home_aws = tmp_path / "home" / ".aws"
    shutil.copytree(home_aws / "acme", home_aws / "beta")
    r = run([sys.executable, "-m", "iamlayer", "whoami"], env, tmp_path)
    err = " ".join(r.stderr.split())
    assert r.returncode == 1 and "Traceback" not in err, err
    assert f"--profile acme-security ({home_aws / 'acme' / 'config'})" in err
    assert f"--profile acme-security ({home_aws / 'beta' / 'config'})" in err
    # With nothing of the person's at all, it says what to pass.
    shutil.rmtree(home_aws)
    r = run([sys.executable, "-m", "iamlayer", "whoami"], env, tmp_path)
    err = " ".join(r.stderr.split())
    assert r.returncode == 1 and "pass --profile <project>-<people account>" in err, err
