"""Credentials for a profile iamlayer wrote: one MFA code per session, cached role credentials.

How `iamlayer exec` and `iamlayer credential-process` get credentials for a role profile:

1. role credentials cached and valid for 5 more minutes: use them (no AWS call);
2. otherwise, when the role requires MFA (the profile has mfa_serial): the MFA session of the
   source profile (sts:GetSessionToken with a TOTP code on the long-term key), cached, so one
   code serves every role for the session's lifetime; then sts:AssumeRole with the session's
   credentials. AWS caps such chained role sessions at one hour, so DurationSeconds <= 3600;
3. without MFA: sts:AssumeRole on the long-term key directly.

The cache is `<aws dir>/cache/` (e.g. ~/.aws/acme/cache/), one 0600 JSON file per MFA session
and per role, written atomically. Nothing in it is ever printed or logged.
"""

from __future__ import annotations

import configparser
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from iamlayer.aws.people import (
    ClientFactory,
    Identity,
    InvalidMfaCodeError,
    assume_role,
    caller_identity,
    get_session_token,
)
from iamlayer.errors import AccessDeniedError, CredentialsError
from iamlayer.files import make_private_dir, remove_durably, write_private_file
from iamlayer.profiles.credentials import Credentials
from iamlayer.profiles.inifile import owned_sections
from iamlayer.profiles.modes import ROLE_ARN_KEY, SOURCE_PROFILE_KEY
from iamlayer.profiles.secret_store import STORE_KEY, StoreCache, get_access_key, store_from_label

#: refresh cached credentials that have less than this left
REFRESH_MARGIN = timedelta(minutes=5)
#: AWS caps role sessions obtained with temporary credentials ("role chaining") at one hour
CHAINED_ROLE_MAX_SECONDS = 3600
#: GetSessionToken's default for IAM users; the longest an MFA code is good for here
DEFAULT_SESSION_SECONDS = 43200
MAX_CODE_TRIES = 3

#: (mfa serial, attempt number from 1, why the previous code was refused or None) -> a code
CodeProvider = Callable[[str, int, str | None], str]


@dataclass(frozen=True)
class AwsFiles:
    """The config and credentials files iamlayer wrote, and the cache folder next to them."""

    config: Path
    credentials: Path

    @property
    def cache_dir(self) -> Path:
        return self.config.parent / "cache"

    @classmethod
    def for_project(cls, project: str, aws_dir: Path | None = None) -> AwsFiles:
        """The files iamlayer writes for a person of `project`: in `aws_dir`, else ~/.aws/<project>/."""
        folder = aws_dir.expanduser() if aws_dir else Path.home() / ".aws" / project
        return cls(folder / "config", folder / "credentials")


def locate_files(
    aws_dir: Path | None = None, profile: str | None = None, env: Mapping[str, str] | None = None
) -> AwsFiles:
    """Find the files: `--aws-dir`, else AWS_CONFIG_FILE (+ AWS_SHARED_CREDENTIALS_FILE), else
    ~/.aws/<project>/ guessed from the profile name's prefix (acme-apps-prd-devops -> ~/.aws/acme).

    Raises CredentialsError when none applies.
    """
    env = os.environ if env is None else env
    if aws_dir is not None:
        d = aws_dir.expanduser()
        return AwsFiles(d / "config", d / "credentials")
    if env.get("AWS_CONFIG_FILE"):
        config = Path(env["AWS_CONFIG_FILE"]).expanduser()
        creds = env.get("AWS_SHARED_CREDENTIALS_FILE")
        return AwsFiles(config, Path(creds).expanduser() if creds else config.parent / "credentials")
    if profile:
        parts = profile.split("-")
        for n in range(len(parts) - 1, 0, -1):
            d = Path.home() / ".aws" / "-".join(parts[:n])
            if (d / "config").is_file():
                return AwsFiles(d / "config", d / "credentials")
    raise CredentialsError(
        "cannot tell which AWS config file to use: pass --aws-dir ~/.aws/<project>, or export "
        "AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE as `iamlayer credentials configure` printed"
    )


def _read_ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        with path.open(encoding="utf-8-sig") as f:
            parser.read_file(f)
    except FileNotFoundError:
        pass
    except configparser.Error as exc:
        raise CredentialsError(f"cannot read {path}: {exc}") from exc
    return parser


def read_config_profiles(path: Path) -> dict[str, dict[str, str]]:
    """The profiles of an AWS config file by name (`[profile X]` -> X, `[default]` -> default)."""
    parser = _read_ini(path)
    out: dict[str, dict[str, str]] = {}
    for section in parser.sections():
        name = section[len("profile ") :].strip() if section.startswith("profile ") else section.strip()
        out[name] = dict(parser.items(section))
    return out


@dataclass(frozen=True)
class ResolvedProfile:
    """A profile of the config file, with what exec needs to get its credentials."""

    name: str
    role_arn: str | None  # None: the source profile itself
    source_profile: str  # the credentials-file section with the long-term key
    mfa_serial: str | None
    region: str | None
    session_name: str | None  # role_session_name; None: the caller's IAM user name (`_assume`)
    duration: int | None


def resolve_profile(files: AwsFiles, name: str) -> ResolvedProfile:
    """Look `name` up in the config file. Unknown names raise CredentialsError with a did-you-mean."""
    profiles = read_config_profiles(files.config)
    if name not in profiles:
        close = get_close_matches(name, list(profiles), n=3, cutoff=0.5)
        if close:
            hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
        elif profiles:
            hint = "profiles there: " + ", ".join(sorted(profiles))
        else:
            hint = "it has no profiles; run `iamlayer credentials configure` first"
        raise CredentialsError(f"profile {name!r} is not in {files.config}; {hint}")
    p = profiles[name]
    # `cli: key` role profiles name their role with iamlayer's own keys (iamlayer.profiles.modes).
    role = p.get("role_arn") or p.get(ROLE_ARN_KEY)
    source = (p.get("source_profile") or p.get(SOURCE_PROFILE_KEY) or name) if role else name
    duration = p.get("duration_seconds")
    return ResolvedProfile(
        name=name,
        role_arn=role,
        source_profile=source,
        mfa_serial=p.get("mfa_serial") or (profiles.get(source, {}).get("mfa_serial") if not role else None),
        region=p.get("region") or profiles.get(source, {}).get("region"),
        session_name=p.get("role_session_name") or None,
        duration=int(duration) if duration and duration.isdigit() else None,
    )


def source_keys(files: AwsFiles, source_profile: str) -> Credentials:
    """The long-term access key of `source_profile`: from its store (`cli: key`), else from the
    credentials file."""
    section = read_config_profiles(files.config).get(source_profile, {})
    if section.get(STORE_KEY):
        stored = get_access_key(store_from_label(files.config, section[STORE_KEY]), source_profile)
        if stored is None:
            raise CredentialsError(
                f"no access key for {source_profile} in {section[STORE_KEY].split()[0]}; "
                "run `iamlayer onboard` or `iamlayer credentials configure` again"
            )
        return stored
    if section.get("login_session"):
        raise CredentialsError(
            f"{source_profile} is an `aws login` session: iamlayer does not read those; use the aws "
            "CLI v2 with your role profiles, or their `-process` twins for other tools"
        )
    parser = _read_ini(files.credentials)
    if not parser.has_section(source_profile):
        raise CredentialsError(
            f"no [{source_profile}] section in {files.credentials}; run `iamlayer credentials configure`"
        )
    key = parser.get(source_profile, "aws_access_key_id", fallback="").strip()
    secret = parser.get(source_profile, "aws_secret_access_key", fallback="").strip()
    if not key or not secret:
        raise CredentialsError(
            f"[{source_profile}] in {files.credentials} lacks aws_access_key_id/aws_secret_access_key"
        )
    return Credentials(key, secret)


def own_profiles(files: AwsFiles) -> list[str]:
    """The profiles iamlayer wrote with one's own long-term key (`<project>-<people account>` of
    `configure`/`onboard`): sections marked as iamlayer's that its role profiles start from
    (`source_profile`), with a key in the credentials file."""
    try:
        owned = owned_sections(files.config.read_text("utf-8", errors="replace"))
    except OSError:
        return []
    profiles = read_config_profiles(files.config)
    sources = {p["source_profile"] for p in profiles.values() if p.get("source_profile")}
    keys = _read_ini(files.credentials)
    return sorted(
        s
        for s in sources
        if s in profiles
        and f"profile {s}" in owned
        and (keys.has_option(s, "aws_access_key_id") or STORE_KEY in profiles[s])
    )


def default_person_profile(
    aws_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[str, AwsFiles] | None:
    """The person's own profile when none is named: the only one `own_profiles` finds in the files
    `locate_files` names, else in the ~/.aws/<project>/ folders iamlayer writes. None when there is
    none; CredentialsError, naming them, when there are several."""
    try:
        candidates = [locate_files(aws_dir, None, env)]
    except CredentialsError:
        folders = sorted((Path.home() / ".aws").glob("*/config"))
        candidates = [AwsFiles(c, c.parent / "credentials") for c in folders]
    found = [(name, files) for files in candidates for name in own_profiles(files)]
    if len(found) > 1:
        choices = ", ".join(f"--profile {n} ({f.config})" for n, f in found)
        raise CredentialsError(
            f"several profiles hold an access key of your own: pass one of {choices}, or export "
            "the AWS_CONFIG_FILE line `iamlayer onboard` printed for the project you mean"
        )
    return found[0] if found else None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


class SessionCache:
    """MFA sessions and role credentials on disk: one 0600 JSON file each, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, kind: str, key: str) -> Path:
        return self.folder / f"{kind}--{_slug(key)}.json"

    def load(self, kind: str, key: str) -> tuple[Credentials, dict[str, Any]] | None:
        """The cached credentials and their metadata, or None (missing or unreadable: start over)."""
        try:
            data = json.loads(self._path(kind, key).read_text(encoding="utf-8"))
            return Credentials.from_json(data["Credentials"]), dict(data.get("Meta", {}))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, kind: str, key: str, creds: Credentials, meta: Mapping[str, Any]) -> None:
        make_private_dir(self.folder)
        data = {"Credentials": creds.to_json(), "Meta": dict(meta)}
        write_private_file(self._path(kind, key), json.dumps(data, indent=1).encode())

    def drop(self, kind: str, key: str) -> None:
        remove_durably(self._path(kind, key))

    def clear(self) -> int:
        """Remove every cached session and role credential; returns how many files went."""
        if not self.folder.is_dir():
            return 0
        n = 0
        for p in sorted(self.folder.glob("*--*.json")):
            remove_durably(p)
            n += 1
        return n


SESSION, ROLE = "mfa-session", "role"


@dataclass(frozen=True)
class ProfileStatus:
    """What whoami reports about a profile, without prompting or refreshing anything."""

    profile: ResolvedProfile
    identity: Identity
    using: str  # "role", "mfa-session" or "long-term key"
    mfa_session_expires: datetime | None  # None: no valid MFA session cached
    credentials_expire: datetime | None


class SessionBroker:
    """Gets credentials for the profiles of one config file, with the cache and MFA prompting."""

    def __init__(
        self,
        files: AwsFiles,
        *,
        factory: ClientFactory,
        code_provider: CodeProvider,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        session_seconds: int = DEFAULT_SESSION_SECONDS,
    ) -> None:
        self.files = files
        self.factory = factory
        self.code_provider = code_provider
        self.now = now
        self.session_seconds = session_seconds
        self.plain_cache = SessionCache(files.cache_dir)

    def cache_for(self, source_profile: str) -> SessionCache | StoreCache:
        """Where the sessions made from `source_profile` are kept: its store, else the plaintext cache."""
        label = read_config_profiles(self.files.config).get(source_profile, {}).get(STORE_KEY)
        return StoreCache(store_from_label(self.files.config, label)) if label else self.plain_cache

    def credentials(self, name: str) -> tuple[ResolvedProfile, Credentials]:
        """Credentials for profile `name`, from the cache when still good for REFRESH_MARGIN."""
        p = resolve_profile(self.files, name)
        if p.role_arn is None:
            if p.mfa_serial:
                return p, self._mfa_session(p)[0]
            return p, source_keys(self.files, p.source_profile)
        cache = self.cache_for(p.source_profile)
        cached = cache.load(ROLE, p.name)
        if (
            cached
            and cached[1].get("RoleArn") == p.role_arn
            and cached[0].valid_for(REFRESH_MARGIN, self.now())
        ):
            return p, cached[0]
        if p.mfa_serial:
            session, from_cache = self._mfa_session(p)
            try:
                creds = self._assume(
                    p, session, min(p.duration or CHAINED_ROLE_MAX_SECONDS, CHAINED_ROLE_MAX_SECONDS)
                )
            except AccessDeniedError:
                if not from_cache:
                    raise
                # A cached session can be older than the role's MFA age limit (aws:MultiFactorAuthAge
                # in its trust policy): start a fresh MFA session once before giving up.
                cache.drop(SESSION, p.source_profile)
                session, _ = self._mfa_session(p)
                creds = self._assume(p, session, CHAINED_ROLE_MAX_SECONDS)
        else:
            creds = self._assume(p, source_keys(self.files, p.source_profile), p.duration or 3600)
        cache.save(ROLE, p.name, creds, {"RoleArn": p.role_arn, "MfaSerial": p.mfa_serial})
        return p, creds

    def _assume(self, p: ResolvedProfile, creds: Credentials, duration: int) -> Credentials:
        """sts:AssumeRole in a session named after the person: the layer's trust policies require
        sts:RoleSessionName = ${aws:username}. A profile without role_session_name (written by
        hand, or by an older iamlayer) gets the caller's IAM user name from sts:GetCallerIdentity."""
        assert p.role_arn is not None
        name = p.session_name
        if name is None:
            caller = caller_identity(self.factory, creds, p.region)
            name = caller.name if caller.kind == "user" else "iamlayer"
        return assume_role(
            self.factory, creds, p.role_arn, session_name=name, duration=duration, region=p.region
        )

    def _mfa_session(self, p: ResolvedProfile) -> tuple[Credentials, bool]:
        """The source profile's MFA session (cached, or new with a code); True when from the cache."""
        assert p.mfa_serial is not None
        keys = source_keys(self.files, p.source_profile)
        cache = self.cache_for(p.source_profile)
        cached = cache.load(SESSION, p.source_profile)
        if (
            cached
            and cached[1].get("MfaSerial") == p.mfa_serial
            # A rotated access key invalidates the sessions made with the old one.
            and cached[1].get("SourceAccessKeyId") == keys.access_key_id
            and cached[0].valid_for(REFRESH_MARGIN, self.now())
        ):
            return cached[0], True
        why: str | None = None
        for attempt in range(1, MAX_CODE_TRIES + 1):
            code = self.code_provider(p.mfa_serial, attempt, why)
            try:
                session = get_session_token(
                    self.factory,
                    keys,
                    duration=self.session_seconds,
                    serial=p.mfa_serial,
                    code=code,
                    region=p.region,
                )
                break
            except InvalidMfaCodeError as exc:
                why = str(exc)
                if attempt == MAX_CODE_TRIES:
                    raise InvalidMfaCodeError(
                        f"{exc} ({MAX_CODE_TRIES} tries). Check that the device is {p.mfa_serial} and "
                        "that its clock is right, then wait for a new code.",
                        code=exc.code,
                        operation=exc.operation,
                    ) from exc
        meta = {"MfaSerial": p.mfa_serial, "SourceAccessKeyId": keys.access_key_id}
        cache.save(SESSION, p.source_profile, session, meta)
        return session, False

    def status(self, name: str) -> ProfileStatus:
        """Who profile `name` resolves to, using the best cached credentials; never prompts."""
        p = resolve_profile(self.files, name)
        now = self.now()
        cache = self.cache_for(p.source_profile)
        session = cache.load(SESSION, p.source_profile)
        session_ok = session is not None and session[0].valid_for(timedelta(0), now)
        role = cache.load(ROLE, p.name) if p.role_arn else None
        if role is not None and role[1].get("RoleArn") == p.role_arn and role[0].valid_for(timedelta(0), now):
            creds, using = role[0], "role"
        elif session is not None and session_ok:
            creds, using = session[0], "mfa-session"
        else:
            creds, using = source_keys(self.files, p.source_profile), "long-term key"
        ident = caller_identity(self.factory, creds, p.region)
        return ProfileStatus(
            profile=p,
            identity=ident,
            using=using,
            mfa_session_expires=session[0].expiration if session is not None and session_ok else None,
            credentials_expire=creds.expiration,
        )


def child_env(
    creds: Credentials, region: str | None, base: Mapping[str, str] | None = None, profile: str | None = None
) -> dict[str, str]:
    """The environment for a command run by `exec`: these credentials and nothing that competes."""
    env = dict(os.environ if base is None else base)
    # A profile or stale token in the environment would win over (or mix with) the keys we set.
    for k in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
    ):
        env.pop(k, None)
    env["AWS_ACCESS_KEY_ID"] = creds.access_key_id
    env["AWS_SECRET_ACCESS_KEY"] = creds.secret_access_key
    if creds.session_token:
        env["AWS_SESSION_TOKEN"] = creds.session_token
    if creds.expiration:
        env["AWS_CREDENTIAL_EXPIRATION"] = creds.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
    if region:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
    if profile:
        env["IAMLAYER_PROFILE"] = profile
    return env


def credential_process_output(creds: Credentials) -> str:
    """The JSON the AWS SDKs expect from a `credential_process` command."""
    return json.dumps({"Version": 1, **creds.to_json()})
