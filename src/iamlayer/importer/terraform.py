"""Read a Terraform state (format version 4, what `terraform state pull` prints) for `import terraform`.

The IAM resources of the state become each account's `AccountState`, as if read from AWS:
aws_iam_user, aws_iam_user_login_profile, aws_iam_access_key, aws_iam_group,
aws_iam_group_membership, aws_iam_user_group_membership, aws_iam_group_policy, aws_iam_policy,
aws_iam_role, aws_iam_role_policy, aws_iam_account_alias and aws_iam_account_password_policy;
the attachments of managed policies to groups and roles, whichever type makes them
(aws_iam_group_policy_attachment, aws_iam_role_policy_attachment, aws_iam_policy_attachment and
provider 5's aws_iam_group/role_policy_attachments_exclusive); and the inline policies that
aws_iam_group/role_policies_exclusive name. They are declared directly or inside modules
(`module.users["jane"].aws_iam_user.this[0]`, as the terraform-aws-iam modules make them): a
resource is known by its type and attributes, never by its address. What the state holds is read
the same whichever provider major (4, 5 or 6) wrote it. Deposed objects (an instance with
`"deposed"`: replaced by create_before_destroy, not destroyed yet) are not read as live.

Which account a resource is in: its own ARN, else that of the other resources of its provider
configuration (or a `data.aws_caller_identity` of it), else the only account of the state.

Keys: the state records the public key each login profile and access key was encrypted to
(`pgp_key`, base64 of the binary key, as Terraform takes it). With the layer's folder
(`--layer DIR`), DIR/keys/ becomes the spec's keys/, and each user's `pgp_key` is the file the
layer's .tf files give it (`pgp_key = file("keys/<name>")`, also through `${each.key}`), else the
file whose content is the key in the state. Without it, or for a user no file matches, the key
from the state is written to keys/<user>. A `keybase:` key cannot be fetched offline: such users
keep their credentials as they are.

The secrets Terraform encrypted (`encrypted_password`, `encrypted_secret`: base64 of the binary
OpenPGP message) are carried over as they are, never decrypted.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from iamlayer.errors import Diagnostic, SpecError
from iamlayer.importer.model import Ciphertext, ImportFinding, ImportSource, SourceAccount
from iamlayer.kinds import terraform_types
from iamlayer.secrets.names import SecretKind
from iamlayer.spec.model import PasswordPolicy
from iamlayer.state.model import (
    AccessKey,
    AccountState,
    GroupState,
    OidcProviderState,
    PolicyState,
    RoleState,
    UserState,
)
from iamlayer.state.normalize import normalize

#: Types that attach managed policies: principal kind -> the attribute naming the principal (or
#: listing them), and the attribute holding the policy ARN (or the list of them).
_ATTACHMENTS: dict[str, tuple[tuple[tuple[Literal["group", "role"], str], ...], str]] = {
    "aws_iam_group_policy_attachment": ((("group", "group"),), "policy_arn"),
    "aws_iam_role_policy_attachment": ((("role", "role"),), "policy_arn"),
    # One policy to lists of users, groups and roles. Terraform treats it as the policy's only
    # attachment (it detaches the policy from anyone else), but in AWS each is an attachment.
    "aws_iam_policy_attachment": ((("group", "groups"), ("role", "roles")), "policy_arn"),
    # Late provider 5 releases and 6: the principal has exactly these managed policies.
    "aws_iam_group_policy_attachments_exclusive": ((("group", "group_name"),), "policy_arns"),
    "aws_iam_role_policy_attachments_exclusive": ((("role", "role_name"),), "policy_arns"),
}
#: Types that name a principal's inline policies exclusively (late provider 5 releases and 6); the
#: documents are in aws_iam_group_policy, aws_iam_role_policy or the role's inline_policy, if anywhere.
_INLINE_NAMES: dict[str, tuple[Literal["group", "role"], str]] = {
    "aws_iam_group_policies_exclusive": ("group", "group_name"),
    "aws_iam_role_policies_exclusive": ("role", "role_name"),
}
#: the resource types read, as the kinds declare them (iamlayer.kinds); any other aws_iam_* type
#: is reported as not modelled
TYPES = terraform_types()
_WHY_NOT = {
    "aws_iam_user_policy": "iamlayer gives users permissions through groups only",
    "aws_iam_user_policy_attachment": "iamlayer gives users permissions through groups only",
    "aws_iam_user_policy_attachments_exclusive": "iamlayer gives users permissions through groups only",
    "aws_iam_user_policies_exclusive": "iamlayer gives users permissions through groups only",
    "aws_iam_instance_profile": "instance profiles belong to EC2, not to the identities layer",
    "aws_iam_user_ssh_key": "SSH keys (CodeCommit) are not part of the spec",
    "aws_iam_service_linked_role": "AWS manages service-linked roles",
}
_ARN_ACCOUNT = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):")


@dataclass(frozen=True)
class TfInstance:
    """One resource instance of a Terraform state: its address, provider and attributes."""

    address: str
    type: str
    provider: str  # the state file and the provider configuration: one account each
    module: str  # "" or module.users["jane"]
    attrs: Mapping[str, Any]
    state: str = ""  # the state file it is in (addresses repeat across account layers)
    deposed: str = ""  # the deposed key, for an object Terraform replaced but has not destroyed yet

    def get(self, key: str, default: Any = None) -> Any:
        value = self.attrs.get(key)
        return default if value is None else value


def _index(key: Any) -> str:
    if key is None:
        return ""
    return f"[{key}]" if isinstance(key, int) else f"[{json.dumps(key)}]"


def parse_state(text: str, file: str) -> list[TfInstance]:
    """The instances of a state file; SpecError (exit 2) naming the file when it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(
            [
                Diagnostic(
                    file, e.lineno, "", f"not JSON: {e.msg}", "give the output of `terraform state pull`"
                )
            ]
        ) from None
    if not isinstance(data, dict) or "resources" not in data:
        raise SpecError(
            [
                Diagnostic(
                    file, None, "", "not a Terraform state (no resources)", "terraform state pull > FILE"
                )
            ]
        )
    if data.get("version") != 4:
        raise SpecError(
            [
                Diagnostic(
                    file,
                    None,
                    "version",
                    f"state format version {data.get('version')!r} is not supported",
                    "only version 4 (Terraform 0.12 and later) is read; run `terraform state pull` with a current Terraform",
                )
            ]
        )
    out: list[TfInstance] = []
    for i, r in enumerate(data["resources"]):
        if not isinstance(r, dict) or r.get("mode") not in ("managed", "data"):
            continue
        rtype, name, module = str(r.get("type", "")), str(r.get("name", "")), str(r.get("module", ""))
        prefix = "data." if r["mode"] == "data" else ""
        for inst in r.get("instances", []):
            attrs = inst.get("attributes")
            if not isinstance(attrs, dict):
                raise SpecError(
                    [
                        Diagnostic(
                            file, None, f"resources[{i}]", f"{rtype}.{name}: instance without attributes"
                        )
                    ]
                )
            base = f"{prefix}{rtype}.{name}{_index(inst.get('index_key'))}"
            out.append(
                TfInstance(
                    address=f"{module}.{base}" if module else base,
                    type=f"{prefix}{rtype}",
                    # A module's resources name the provider configuration they were given; the
                    # same configuration in another layer's state is another account.
                    provider=f"{file}|{r.get('provider', '')}",
                    module=module,
                    attrs=attrs,
                    state=file,
                    deposed=str(inst.get("deposed") or ""),
                )
            )
    return out


def _json(value: Any) -> dict[str, Any]:
    return normalize(value) if value else {}


class _Reader:
    def __init__(self, instances: list[TfInstance], findings: list[ImportFinding]) -> None:
        self.instances = instances
        self.findings = findings
        self.provider_account: dict[str, str] = {}
        for inst in instances:
            acc = _own_account(inst)
            if acc:
                self.provider_account.setdefault(inst.provider, acc)
        self.accounts: dict[str, AccountState] = {}

    def account_of(self, inst: TfInstance) -> str | None:
        acc = _own_account(inst) or self.provider_account.get(inst.provider)
        if acc is None and len(set(self.provider_account.values())) == 1:
            acc = next(iter(self.provider_account.values()))
        if acc is None:
            self.findings.append(
                ImportFinding(
                    "left_out",
                    inst.address,
                    inst.type,
                    "which account it is in cannot be told from the state",
                )
            )
        return acc

    def state(self, account: str) -> AccountState:
        return self.accounts.setdefault(account, AccountState(account_id=account))

    def each(self, *types: str) -> Iterator[tuple[TfInstance, AccountState]]:
        for inst in self.instances:
            if inst.type in types:
                acc = self.account_of(inst)
                if acc is not None:
                    yield inst, self.state(acc)


def _own_account(inst: TfInstance) -> str | None:
    if inst.type == "data.aws_caller_identity":
        acc = inst.attrs.get("account_id")
        return str(acc) if acc else None
    m = _ARN_ACCOUNT.match(str(inst.attrs.get("arn") or ""))
    return m.group(1) if m else None


def _strings(value: Any) -> list[str]:
    """An attribute naming one thing or a list of them, as a list."""
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _principal(st: AccountState, kind: Literal["group", "role"], name: str) -> GroupState | RoleState | None:
    return st.groups.get(name) if kind == "group" else st.roles.get(name)


def _tags(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def read_states(instances: list[TfInstance], findings: list[ImportFinding]) -> dict[str, AccountState]:
    """Each account's state as the resources of the state file describe it."""
    r = _Reader(instances, findings)
    for inst, st in r.each("aws_iam_user"):
        name = str(inst.get("name"))
        st.users[name] = UserState(
            name=name,
            path=inst.get("path", "/"),
            tags=_tags(inst.get("tags")),
            login_profile=False,
            access_keys=(),
        )
        if inst.get("permissions_boundary"):
            findings.append(
                ImportFinding(
                    "kept",
                    inst.address,
                    f"user {name}: permissions boundary",
                    "not part of the spec; it stays as it is",
                )
            )
    for inst, st in r.each("aws_iam_group"):
        name = str(inst.get("name"))
        st.groups[name] = GroupState(name=name, path=inst.get("path", "/"))
    for inst, st in r.each("aws_iam_policy"):
        name = str(inst.get("name"))
        st.policies[name] = PolicyState(
            name=name,
            path=inst.get("path", "/"),
            description=inst.get("description", ""),
            document=_json(inst.get("policy")),
            arn=str(inst.get("arn", "")),
            tags=_tags(inst.get("tags")),
        )
    for inst, st in r.each("aws_iam_role"):
        name = str(inst.get("name"))
        inline = {
            str(p["name"]): _json(p.get("policy")) for p in inst.get("inline_policy", []) if p.get("name")
        }
        st.roles[name] = RoleState(
            name=name,
            path=inst.get("path", "/"),
            trust=_json(inst.get("assume_role_policy")),
            max_session_duration=int(inst.get("max_session_duration", 3600)),
            description=inst.get("description", ""),
            permissions_boundary=inst.get("permissions_boundary") or None,
            attached=frozenset(inst.get("managed_policy_arns", [])),
            inline=inline,
            tags=_tags(inst.get("tags")),
        )
    # Pairs: a pair whose user, group or role is not in the state is about something it does not manage.
    for inst, st in r.each("aws_iam_user_login_profile"):
        user = st.users.get(str(inst.get("user")))
        if user is not None:
            user.login_profile = True
    for inst, st in r.each("aws_iam_access_key"):
        user = st.users.get(str(inst.get("user")))
        if user is not None:
            key = AccessKey(
                id=str(inst.get("id")),
                active=inst.get("status", "Active") == "Active",
                created=str(inst.get("create_date", "")),
            )
            user.access_keys = (*(user.access_keys or ()), key)
    members: dict[tuple[str, str], set[str]] = defaultdict(set)  # (account, user) -> groups
    for inst, st in r.each("aws_iam_group_membership"):
        for u in inst.get("users", []):
            members[(st.account_id, str(u))].add(str(inst.get("group")))
    for inst, st in r.each("aws_iam_user_group_membership"):
        members[(st.account_id, str(inst.get("user")))].update(str(g) for g in inst.get("groups", []))
    for (account, user_name), groups in members.items():
        member = r.state(account).users.get(user_name)
        if member is not None:
            member.groups = frozenset(member.groups | groups)
    for inst, st in r.each("aws_iam_group_policy"):
        group = st.groups.get(str(inst.get("group")))
        if group is not None:
            group.inline[str(inst.get("name"))] = _json(inst.get("policy"))
    for inst, st in r.each("aws_iam_role_policy"):
        role = st.roles.get(str(inst.get("role")))
        if role is not None:
            role.inline[str(inst.get("name"))] = _json(inst.get("policy"))
    for inst, st in r.each(*_ATTACHMENTS):
        kinds, arns = _ATTACHMENTS[inst.type]
        for kind, attr in kinds:
            for name in _strings(inst.get(attr)):
                principal = _principal(st, kind, name)
                if principal is not None:
                    principal.attached = principal.attached | set(_strings(inst.get(arns)))
        if inst.get("users"):
            findings.append(
                ImportFinding(
                    "left_out",
                    inst.address,
                    f"{inst.type}: {inst.get('policy_arn')} to users {', '.join(_strings(inst.get('users')))}",
                    "iamlayer gives users permissions through groups only; the attachment stays as it is",
                )
            )
    for inst, st in r.each(*_INLINE_NAMES):
        kind, attr = _INLINE_NAMES[inst.type]
        name = str(inst.get(attr))
        principal = _principal(st, kind, name)
        missing = [p for p in _strings(inst.get("policy_names")) if principal and p not in principal.inline]
        if missing:
            # Without the document the spec cannot hold the policy, and a spec without it plans
            # its deletion: the principal is left out whole.
            del (st.groups if kind == "group" else st.roles)[name]
            findings.append(
                ImportFinding(
                    "left_out",
                    inst.address,
                    f"{kind} {name}",
                    f"its inline policy {', '.join(missing)} is named here but its document is not in the "
                    "state (another layer's?); it stays as it is",
                )
            )
    for inst, st in r.each("aws_iam_openid_connect_provider"):
        # read as live state (the providers a `ci:` block will find), but the importer writes no
        # `ci:`: a provider does not say which repository and branches may use it
        url = str(inst.get("url", "")).removeprefix("https://").rstrip("/")
        st.oidc_providers[url] = OidcProviderState(
            host=url,
            arn=str(inst.get("arn", "")),
            client_ids=tuple(sorted(inst.get("client_id_list", []))),
            tags=_tags(inst.get("tags")),
        )
        findings.append(
            ImportFinding(
                "kept", inst.address, f"OIDC provider {url}", "write a `ci:` block for what uses it"
            )
        )
    for inst, st in r.each("aws_iam_account_alias"):
        st.alias = str(inst.get("account_alias"))
    for inst, st in r.each("aws_iam_account_password_policy"):
        st.password_policy = _password_policy(inst)
    for g_state in r.accounts.values():
        for g in g_state.groups.values():
            g.members = frozenset(u.name for u in g_state.users.values() if g.name in u.groups)
    for inst in instances:
        if inst.type.startswith("aws_iam_") and inst.type not in TYPES:
            why = _WHY_NOT.get(inst.type, "not a resource type the spec models")
            findings.append(ImportFinding("left_out", inst.address, inst.type, f"{why}; it stays as it is"))
    return r.accounts


def _password_policy(inst: TfInstance) -> PasswordPolicy:
    """aws_iam_account_password_policy: the API's fields, spelled in snake case."""
    return PasswordPolicy.from_aws(
        {"".join(w.capitalize() for w in k.split("_")): v for k, v in inst.attrs.items() if v is not None}
    )


# --- keys and ciphertexts -------------------------------------------------------------------------


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _key_bytes(content: bytes) -> bytes:
    """A key file's content as the binary key, whatever its form (for comparing files with keys)."""
    text = content.decode("ascii", errors="replace")
    if "-----BEGIN PGP" in text:
        body = [ln for ln in text.splitlines() if ln and ":" not in ln and not ln.startswith(("-----", "="))]
        return _b64("".join(body)) or content
    return _b64(text) or content


_FILE_REF = re.compile(r'pgp_key\s*=\s*file\(\s*"([^"]+)"\s*\)')
_BLOCK = re.compile(r'^(module|resource)\s+"([^"]+)"(?:\s+"([^"]+)")?\s*\{', re.MULTILINE)


def layer_key_refs(layer: Path) -> dict[str, str]:
    """Terraform address prefix -> the key file path its `pgp_key = file("...")` names.

    `module "jane" {... pgp_key = file("keys/jane.doe") }` gives `module.jane`; a resource gives
    `TYPE.NAME`. A path with `${each.key}` is kept as a template, filled per instance.
    """
    refs: dict[str, str] = {}
    for tf in sorted(layer.glob("*.tf")):
        text = tf.read_text(encoding="utf-8", errors="replace")
        starts = list(_BLOCK.finditer(text))
        for i, m in enumerate(starts):
            body = text[m.end() : starts[i + 1].start() if i + 1 < len(starts) else len(text)]
            ref = _FILE_REF.search(body)
            if ref is None:
                continue
            address = f"module.{m.group(2)}" if m.group(1) == "module" else f"{m.group(2)}.{m.group(3)}"
            refs[address] = ref.group(1)
    return refs


def _each_key(address: str) -> str | None:
    m = re.search(r'\["([^"]+)"\]', address)
    return m.group(1) if m else None


def _layer_file(inst: TfInstance, refs: Mapping[str, str]) -> str | None:
    """The key file the layer's .tf files give the resource of `inst`, if any."""
    candidates = []
    if inst.module:
        top = inst.module.split(".module.")[0]
        candidates += [top, re.sub(r"\[[^\]]*\]$", "", top)]
    candidates.append(re.sub(r"\[[^\]]*\]$", "", inst.address))
    for c in candidates:
        if c in refs:
            path = refs[c]
            key = _each_key(inst.module or inst.address)
            return path.replace("${each.key}", key) if key else path
    return None


@dataclass
class KeyChoice:
    files: dict[str, bytes] = field(default_factory=dict)  # file name under keys/ -> content
    users: dict[str, str] = field(default_factory=dict)  # user -> file name


def choose_keys(instances: list[TfInstance], layer: Path | None, findings: list[ImportFinding]) -> KeyChoice:
    """Each user's key file, from the layer (by reference, then by content) or from the state."""
    out = KeyChoice()
    by_content: dict[bytes, str] = {}
    refs: dict[str, str] = {}
    if layer is not None:
        keys_dir = layer / "keys"
        for path in sorted(keys_dir.iterdir()) if keys_dir.is_dir() else []:
            if path.is_file() and not path.name.startswith("."):
                content = path.read_bytes()
                out.files[path.name] = content
                by_content.setdefault(_key_bytes(content), path.name)
        refs = layer_key_refs(layer)
    for inst in instances:
        if inst.type not in ("aws_iam_user_login_profile", "aws_iam_access_key"):
            continue
        user = str(inst.get("user"))
        pgp = str(inst.get("pgp_key", ""))
        if user in out.users:
            continue
        if not pgp:
            if inst.type == "aws_iam_user_login_profile":
                findings.append(
                    ImportFinding(
                        "kept",
                        inst.address,
                        f"user {user}: console password",
                        "made without pgp_key, so Terraform keeps it in the state in plain text: "
                        "not carried over; once iamlayer knows the user's key, re-issue it "
                        "(iamlayer password reset) and remove it from the state",
                    )
                )
            continue
        if pgp.startswith("keybase:"):
            findings.append(
                ImportFinding(
                    "kept",
                    inst.address,
                    f"user {user}: key {pgp}",
                    "a keybase key cannot be fetched offline: credentials: keep",
                )
            )
            out.users[user] = ""
            continue
        named = _layer_file(inst, refs) if refs else None
        if named:
            # file("keys/x"), file("./keys/x") and file("${path.module}/keys/x") name the same file.
            named = re.sub(r"^(\$\{path\.(module|root|cwd)\}/|\./)", "", named)
        if named and named.startswith("keys/") and named[len("keys/") :] in out.files:
            out.users[user] = named[len("keys/") :]
            continue
        binary = _b64(pgp)
        if binary is not None and binary in by_content:
            out.users[user] = by_content[binary]
            continue
        if binary is None:
            findings.append(
                ImportFinding(
                    "kept", inst.address, f"user {user}: pgp_key", "not a base64 key: credentials: keep"
                )
            )
            out.users[user] = ""
            continue
        name = user if user not in out.files else f"{user}.from-state"
        out.files[name] = (pgp.strip() + "\n").encode("ascii")
        by_content[binary] = name
        out.users[user] = name
        if layer is not None:
            findings.append(
                ImportFinding(
                    "note",
                    inst.address,
                    f"user {user}: key",
                    f"no file in the layer's keys/ holds the key Terraform used; written to keys/{name}",
                )
            )
    out.users = {u: f for u, f in out.users.items() if f}
    return out


#: the resource types that hold a ciphertext: the attribute that holds it, and what it is
_CIPHERTEXTS: Final[Mapping[str, tuple[str, SecretKind]]] = {
    "aws_iam_user_login_profile": ("encrypted_password", "password"),
    "aws_iam_access_key": ("encrypted_secret", "access_key"),
}


def ciphertexts(instances: list[TfInstance], account_of: Mapping[tuple[str, str], str]) -> list[Ciphertext]:
    """The encrypted passwords and access-key secrets the state records (never decrypted)."""
    out: list[Ciphertext] = []
    for inst in instances:
        user = str(inst.get("user", ""))
        account = account_of.get((inst.state, inst.address))
        held = _CIPHERTEXTS.get(inst.type)
        if account is None or held is None or not inst.get(held[0]):
            continue
        attribute, kind = held
        message = _b64(str(inst.get(attribute)))
        if not message:
            continue
        key = kind == "access_key"
        out.append(
            Ciphertext(
                account,
                user,
                kind,
                message,
                str(inst.get("key_fingerprint", "")).upper(),
                created=str(inst.get("create_date", "")) if key else "",
                access_key_id=str(inst.get("id")) if key else None,
                source=inst.address,
            )
        )
    return out


def read_terraform(
    state_files: list[Path], *, layer: Path | None, region: str, access_role: str
) -> ImportSource:
    """Everything the state files (and the layer's folder) say, as an ImportSource."""
    findings: list[ImportFinding] = []
    instances: list[TfInstance] = []
    for f in state_files:
        try:
            text = f.read_text(encoding="utf-8")
        except OSError as e:
            raise SpecError(
                [Diagnostic(str(f), None, "", f"cannot read the state: {e.strerror or e}")]
            ) from None
        instances += parse_state(text, str(f))
    deposed = [i for i in instances if i.deposed]
    instances = [i for i in instances if not i.deposed]
    for i in deposed:
        findings.append(
            ImportFinding(
                "left_out",
                i.address,
                f"{i.type} {i.attrs.get('id', '')}".rstrip(),
                f"a deposed object ({i.deposed}): replaced, and not destroyed yet; Terraform destroys it on "
                "its next apply, so it is not read as live (delete it by hand if it outlives the layer)",
            )
        )
    if layer is not None and not layer.is_dir():
        raise SpecError(
            [Diagnostic(str(layer), None, "", "--layer: not a folder", "the folder of the Terraform layer")]
        )
    states = read_states(instances, findings)
    if not states:
        raise SpecError(
            [
                Diagnostic(
                    ", ".join(map(str, state_files)),
                    None,
                    "",
                    "no IAM resource in the state",
                    f"the resource types read: {', '.join(TYPES)}",
                )
            ]
        )
    reader = _Reader(instances, [])
    account_of = {(i.state, i.address): a for i in instances if (a := reader.account_of(i)) is not None}
    keys = choose_keys(instances, layer, findings)
    return ImportSource(
        origin="terraform",
        description=f"Terraform state {', '.join(str(f) for f in state_files)}"
        + (f" and layer {layer}" if layer else ""),
        accounts=[SourceAccount(id=a, state=s) for a, s in states.items()],
        region=region,
        access_role=access_role,
        key_files=keys.files,
        user_keys=keys.users,
        ciphertexts=ciphertexts(instances, account_of),
        findings=findings,
    )
