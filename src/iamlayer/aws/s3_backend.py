"""The S3 backend: a team's locks, journal, last-apply record and ciphertexts in one bucket.

Layout under `<prefix>/`::

    locks/<account>.json             the account's lock, while someone holds it
    journal/<account>.json           the journal's record of the account (iamlayer.state.journal)
    last-apply.json                  the record of the last apply (iamlayer.state.review)
    outputs/<account>/<user>/<file>  a copy of every ciphertext of the outbox

The lock is one object per account, taken with a conditional write (`If-None-Match: *`: only if
there is none), holding its id, the caller's ARN, host, pid, command, since and heartbeat. Its
holder renews it (a thread, every third of the lease) with `If-Match` on the ETag it last wrote,
and releases it with a conditional delete, so that neither ever touches a lock that is no longer
its own. A lock not renewed for longer than `lock_lease` is stale (its holder died): one waiter
takes it over with `If-Match` on the stale version's ETag, and only one can, since the first write
changes the ETag. Staleness is judged by S3's clock alone (the object's LastModified against the
Date of the answer that read it), so a skewed local clock cannot make a live lock look stale.
S3 conditional writes are strongly consistent; this is the protocol of Terraform's S3 backend
since its DynamoDB locking was deprecated.

Every write is sent once (a client without botocore's retries) and, when its answer is lost (a
timeout, a dropped connection, a 5xx), resolved by reading the object back: it is ours (it
landed), it is as it was before (it did not: only then is it sent again), or it is someone
else's (a conditional write lost to them). A conditional write is never blindly resent.

A bucket AWS refuses (it belongs to another account, or the caller may not use it) and a KMS key
that does not exist are errors of the spec's `backend:` block: exit 2, at its line, nothing written.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from iamlayer.aws.accounts import connect_accounts
from iamlayer.aws.errors import aws_call, surely_not_applied
from iamlayer.aws.session import AccountClients, ApiStats
from iamlayer.errors import (
    AccessDeniedError,
    AwsError,
    CredentialsError,
    Diagnostic,
    IamlayerError,
    LockedError,
    SpecError,
)
from iamlayer.files import make_private_dir, remove_durably, write_private_file
from iamlayer.spec.backend_validate import format_duration
from iamlayer.spec.model import S3Backend as S3Config
from iamlayer.spec.model import Spec
from iamlayer.state.backend import AccountJournal, LastApply, LockInfo, SyncResult
from iamlayer.state.outputs import ORGANIZATION_FILE
from iamlayer.state.records import JOURNAL_DIR

#: the statement `backend init` adds to the bucket policy: no request over plain HTTP
TLS_SID = "IamlayerDenyInsecureTransport"
#: answers to a conditional write that mean "the object is not as you expected"
_CONFLICT_STATUS = (409, 412)
#: attempts at one write whose earlier attempts surely did not land (read back to be sure)
_ATTEMPTS = 4
#: where this clone remembers which version of each ciphertext it holds (see sync_outputs)
SYNC_STATE = "backend-outputs.json"
LOCK_FORMAT = 1


#: the share of the lease after which a holder that could not renew stops writing (the rest is the
#: margin for the latency of its last renewal and for writes in flight)
FENCE = 0.8


class _Taken(Exception):
    """A conditional write or delete found the object other than expected (now `current`)."""

    def __init__(self, current: _Object | None) -> None:
        super().__init__("the object changed")
        self.current = current


@dataclass(frozen=True)
class _Object:
    body: bytes
    etag: str
    age: float  # seconds since it was last written, by S3's clock


@dataclass(frozen=True)
class InitResult:
    """What `backend init` changed, and what it could not do (and why)."""

    done: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass
class S3Held:
    """A lock this process holds: the ETag it last wrote, and the heartbeat renewing it."""

    info: LockInfo
    key: str
    etag: str
    lease: float  # seconds without a renewal after which another command may take it over
    lost: str | None = None  # why it is no longer ours (broken, or taken over)
    renewed: float = field(default_factory=time.monotonic)  # when a write of ours last landed
    stop: threading.Event = field(default_factory=threading.Event)
    guard: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None

    def lost_reason(self) -> str | None:
        """The fence of every write made under this lock. Besides a loss the heartbeat saw, a lock
        not renewed for FENCE of its lease counts as lost: a waiter may take it over once the
        lease has passed by S3's clock, and the writes of this process must have stopped by then.
        (A write already in flight cannot be called back; it is one idempotent call.)"""
        if self.lost:
            return self.lost
        silent = time.monotonic() - self.renewed
        if silent > self.lease * FENCE:
            return (
                f"the lock of account {self.info.account} could not be renewed for {silent:.0f} s "
                f"(its lease is {format_duration(self.lease)}); its writes stopped so that a command "
                "taking it over is never written over"
            )
        return None


class S3Backend:
    """The shared backend of `backend: {s3: ...}` (see the module docstring)."""

    def __init__(self, spec: Spec, clients: AccountClients, caller_arn: str) -> None:
        assert spec.backend is not None
        self.spec = spec
        self.cfg: S3Config = spec.backend
        self.clients = clients
        self.s3 = clients.client("s3")  # reads: botocore's retries are harmless
        self.once = clients.client("s3", retries=False)  # writes: sent once, then resolved
        self._caller = caller_arn
        self.key = f"s3://{self.cfg.bucket}/{self.cfg.prefix}"
        self._sync_lock = threading.Lock()

    @classmethod
    def open(cls, spec: Spec, credentials: Any = None, *, check: bool = True) -> S3Backend:
        """Reach the backend's account and (with `check`) make sure its bucket and KMS key are usable."""
        cfg = spec.backend
        assert cfg is not None
        stats = ApiStats()
        conn = connect_accounts(spec, profile=credentials, stats=stats, only=[cfg.account])[cfg.account]
        if conn.clients is None or conn.reach is None:
            raise CredentialsError(
                f"cannot reach account {cfg.account}, where the backend's bucket is: {conn.error}"
            )
        clients = AccountClients(conn.clients.session, "backend", stats, cfg.region)
        backend = cls(spec, clients, conn.reach.caller or conn.reach.identity)
        if check:
            backend.check()
        return backend

    def describe(self) -> str:
        return f"s3://{self.cfg.bucket}/{self.cfg.prefix}/ in account {self.cfg.account}"

    def caller(self) -> str:
        return self._caller

    # -- the bucket and the KMS key ----------------------------------------------------------

    def _spec_error(self, name: str, message: str, hint: str | None = None) -> SpecError:
        return SpecError(
            [Diagnostic(str(self.spec.path), self.cfg.line(name), f"backend.s3.{name}", message, hint)]
        )

    def _bucket_state(self) -> bool:
        """Whether the bucket exists; SpecError when AWS refuses this caller the bucket."""
        try:
            with aws_call(f"reading bucket {self.cfg.bucket}"):
                self.s3.head_bucket(Bucket=self.cfg.bucket)
            return True
        except AwsError as exc:
            if exc.status == 404 or exc.code in ("404", "NoSuchBucket"):
                return False
            if exc.status in (301, 403) or isinstance(exc, AccessDeniedError):
                raise self._refused(exc) from exc
            raise

    def _check_kms_key(self) -> None:
        if not self.cfg.kms_key:
            return
        clients = self.clients
        kms = clients.client("kms")
        try:
            with aws_call(f"reading KMS key {self.cfg.kms_key}"):
                meta = kms.describe_key(KeyId=self.cfg.kms_key)["KeyMetadata"]
        except AwsError as exc:
            if exc.code in ("NotFoundException", "NotFound") or isinstance(exc, AccessDeniedError):
                raise self._spec_error(
                    "kms_key",
                    f"KMS key {self.cfg.kms_key} {'does not exist' if 'NotFound' in exc.code else 'refuses ' + self._caller} "
                    f"in account {self.cfg.account} ({self.cfg.region})",
                    "create it (aws kms create-key, then create-alias), or drop kms_key for SSE-S3",
                ) from exc
            raise
        if meta.get("KeyState", "Enabled") != "Enabled":
            raise self._spec_error(
                "kms_key", f"KMS key {self.cfg.kms_key} is {meta.get('KeyState')}, not Enabled"
            )

    def check(self) -> None:
        """Before any write: the KMS key exists. (A bucket AWS refuses, or that does not exist, is
        reported by the first call that meets it, a read or a conditional write: see `_mapped`.)"""
        self._check_kms_key()

    def _missing(self) -> IamlayerError:
        return IamlayerError(
            f"the backend's bucket {self.cfg.bucket} does not exist in account {self.cfg.account} "
            f"({self.spec.path}:{self.cfg.line('bucket')}): create it with `iamlayer backend init`"
        )

    def _refused(self, exc: AwsError) -> SpecError:
        return self._spec_error(
            "bucket",
            f"bucket {self.cfg.bucket} refuses {self._caller} (from account {self.cfg.account}): "
            f"{exc.code or exc.status}",
            "bucket names are global: it may belong to another account (choose another name), "
            f"or live in another region than {self.cfg.region}, or the caller may not use it",
        )

    def init(self) -> InitResult:
        """Create the bucket (versioned, encrypted, Block Public Access, TLS only), or check and
        complete the one there; idempotent. Returns what was done. A bucket that exists but is
        unversioned or public is refused (IamlayerError saying why), with nothing changed."""
        self._check_kms_key()
        b = self.cfg.bucket
        done: list[str] = []
        if self._bucket_state():
            self._refuse_unsafe()
        else:
            args: dict[str, Any] = {"Bucket": b}
            if self.cfg.region != "us-east-1":  # S3 refuses a LocationConstraint of us-east-1
                args["CreateBucketConfiguration"] = {"LocationConstraint": self.cfg.region}
            try:
                with aws_call(f"creating bucket {b} in {self.cfg.region}"):
                    self.s3.create_bucket(**args)
                done.append(f"created bucket {b} in account {self.cfg.account} ({self.cfg.region})")
            except AwsError as exc:
                if exc.code == "BucketAlreadyExists":
                    raise self._spec_error(
                        "bucket", f"bucket name {b} is taken by another AWS account", "choose another name"
                    ) from exc
                if exc.code != "BucketAlreadyOwnedByYou":
                    raise
                self._refuse_unsafe()
        with aws_call(f"turning versioning on for bucket {b}"):
            if self.s3.get_bucket_versioning(Bucket=b).get("Status") != "Enabled":
                self.s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
                done.append("versioning on")
        done += self._ensure_encryption()
        block = {
            k: True
            for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        }
        with aws_call(f"blocking public access to bucket {b}"):
            if self._public_access_block() != block:
                self.s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=block)
                done.append("Block Public Access on")
        notes: list[str] = []
        if str(self.s3.meta.endpoint_url).startswith("http://"):
            # Only an emulator answers S3 over plain HTTP (iamlayer's sandbox): there the policy would
            # refuse iamlayer itself. AWS's endpoints are HTTPS, where it refuses everyone else.
            notes.append(f"no TLS-only bucket policy: the endpoint {self.s3.meta.endpoint_url} is plain HTTP")
        else:
            done += self._ensure_tls_policy()
        return InitResult(tuple(done), tuple(notes))

    def _public_access_block(self) -> dict[str, bool]:
        try:
            with aws_call(f"reading the public access block of bucket {self.cfg.bucket}"):
                return dict(
                    self.s3.get_public_access_block(Bucket=self.cfg.bucket)["PublicAccessBlockConfiguration"]
                )
        except AwsError as exc:
            if exc.code == "NoSuchPublicAccessBlockConfiguration":
                return {}
            raise

    def _bucket_policy(self) -> dict[str, Any] | None:
        try:
            with aws_call(f"reading the policy of bucket {self.cfg.bucket}"):
                text = self.s3.get_bucket_policy(Bucket=self.cfg.bucket)["Policy"]
        except AwsError as exc:
            if exc.code == "NoSuchBucketPolicy":
                return None
            raise
        policy = json.loads(text)
        return policy if isinstance(policy, dict) else None

    def _refuse_unsafe(self) -> None:
        """An existing bucket must be versioned and not public; iamlayer does not fix one it did not make."""
        b = self.cfg.bucket
        with aws_call(f"reading bucket {b}"):
            versioning = self.s3.get_bucket_versioning(Bucket=b).get("Status")
            grants = self.s3.get_bucket_acl(Bucket=b).get("Grants", [])
        why: list[str] = []
        if versioning != "Enabled":
            why.append(
                f"its versioning is {versioning or 'off'}: without versions, a ciphertext or lock overwritten "
                f"by mistake is gone (turn it on: aws s3api put-bucket-versioning --bucket {b} "
                "--versioning-configuration Status=Enabled)"
            )
        public = [
            g["Grantee"].get("URI", "").rsplit("/", 1)[-1]
            for g in grants
            if g.get("Grantee", {}).get("URI", "").endswith(("/AllUsers", "/AuthenticatedUsers"))
        ]
        if public:
            why.append(f"its ACL grants access to {', '.join(sorted(set(public)))}")
        policy = self._bucket_policy() or {}
        for st in policy.get("Statement", []):
            if (
                isinstance(st, dict)
                and st.get("Effect") == "Allow"
                and st.get("Principal") in ("*", {"AWS": "*"})
                and not st.get("Condition")
            ):
                why.append(f"its bucket policy allows everyone (statement {st.get('Sid') or '?'})")
        if why:
            raise IamlayerError(
                f"not using bucket {b} as the backend: it exists, but " + "; and ".join(why) + ". "
                "It would hold every ciphertext and the locks: fix it, or name another bucket"
            )

    def _ensure_encryption(self) -> list[str]:
        b = self.cfg.bucket
        if self.cfg.kms_key:
            rule: dict[str, Any] = {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": self.cfg.kms_key,
                },
                "BucketKeyEnabled": True,
            }
        else:
            rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        try:
            with aws_call(f"reading the default encryption of bucket {b}"):
                rules = self.s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"]
        except AwsError as exc:
            if exc.code != "ServerSideEncryptionConfigurationNotFoundError":
                raise
            rules = []
        have = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
        if have == rule["ApplyServerSideEncryptionByDefault"]:
            return []
        with aws_call(f"setting the default encryption of bucket {b}"):
            self.s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [rule]})
        return [f"default encryption {'SSE-KMS with ' + self.cfg.kms_key if self.cfg.kms_key else 'SSE-S3'}"]

    def _ensure_tls_policy(self) -> list[str]:
        b = self.cfg.bucket
        policy = with_tls_only(self._bucket_policy(), b)
        if policy is None:
            return []
        with aws_call(f"setting the policy of bucket {b}"):
            self.s3.put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
        return ["bucket policy denies requests without TLS"]

    # -- objects: reads, and writes sent once then resolved ------------------------------------

    def _key(self, *parts: str) -> str:
        return "/".join((self.cfg.prefix, *parts))

    def _get(self, key: str) -> _Object | None:
        try:
            with aws_call(f"reading s3://{self.cfg.bucket}/{key}"):
                r = self.s3.get_object(Bucket=self.cfg.bucket, Key=key)
                body = r["Body"].read()
        except AwsError as exc:
            if exc.code in ("NoSuchKey", "404") or exc.status == 404:
                return None
            raise self._mapped(exc) from exc
        return _Object(body, str(r["ETag"]), _age(r))

    def _mapped(self, exc: AwsError) -> Exception:
        """AWS refusing the bucket or its KMS key is a problem of the spec's backend block."""
        # S3 names the KMS error it met in its code (KMS.NotFoundException, KMS.DisabledException...).
        if exc.code.startswith("KMS."):
            return self._spec_error(
                "kms_key", f"KMS key {self.cfg.kms_key or '(bucket default)'} refused: {exc}"
            )
        if exc.code == "NoSuchBucket":
            return self._missing()
        if exc.status in (301, 403) or isinstance(exc, AccessDeniedError):
            return self._refused(exc)
        return exc

    def _write(
        self,
        key: str,
        body: bytes | None,
        *,
        expect: str | None = None,
        if_none_match: bool = False,
        attempted: str,
    ) -> str:
        """PutObject (or DeleteObject when `body` is None), conditional on the ETag `expect` (If-Match)
        or on no object (`if_none_match`); returns the new ETag ("" for a delete). Sent once; a lost
        answer is resolved by reading back. _Taken when the object is not as the condition wants."""
        for _ in range(_ATTEMPTS):
            try:
                with aws_call(attempted):
                    if body is None:
                        self.once.delete_object(
                            Bucket=self.cfg.bucket, Key=key, **({"IfMatch": expect} if expect else {})
                        )
                        return ""
                    cond = {"IfMatch": expect} if expect else {"IfNoneMatch": "*"} if if_none_match else {}
                    return str(
                        self.once.put_object(Bucket=self.cfg.bucket, Key=key, Body=body, **cond)["ETag"]
                    )
            except AwsError as exc:
                if exc.status in _CONFLICT_STATUS or exc.code in (
                    "PreconditionFailed",
                    "ConditionalRequestConflict",
                ):
                    raise _Taken(self._get(key)) from exc
                if exc.code == "NoSuchKey" and expect:
                    raise _Taken(None) from exc  # If-Match on an object that is gone
                if surely_not_applied(exc):
                    raise self._mapped(exc) from exc
                lost = exc
            # The answer was lost: the object as it is now says whether the write landed.
            now = self._get(key)
            if body is None and now is None:
                return ""
            if body is not None and now is not None and now.body == body:
                return now.etag
            before = (
                (now is not None and now.etag == expect) if expect else (now is None or not if_none_match)
            )
            if not before:
                raise _Taken(now)
        raise lost

    # -- locks ------------------------------------------------------------------------------

    def _lock_body(self, info: LockInfo, heartbeat: str) -> bytes:
        data = {
            "format": LOCK_FORMAT,
            "id": info.id,
            "account": info.account,
            "caller": info.caller,
            "host": info.host,
            "pid": info.pid,
            "command": info.command,
            "since": info.since,
            "heartbeat": heartbeat,
            "lease": format_duration(self.cfg.lock_lease),
        }
        return (json.dumps(data, indent=1) + "\n").encode()

    def _lock_info(self, account: str, obj: _Object) -> LockInfo:
        try:
            data = json.loads(obj.body)
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        pid = data.get("pid")
        return LockInfo(
            account=account,
            id=str(data.get("id", "?")),
            caller=str(data.get("caller", "?")),
            host=str(data.get("host", "?")),
            pid=pid if isinstance(pid, int) else 0,
            command=str(data.get("command", "?")),
            since=str(data.get("since", "?")),
            heartbeat=str(data.get("heartbeat", "")),
            age=obj.age,
            stale=obj.age > self.cfg.lock_lease,
        )

    def acquire(self, account: str, command: str, timeout: float, warn: Callable[[str], None]) -> S3Held:
        key = self._key("locks", f"{account}.json")
        now = _now()
        info = LockInfo(
            account, uuid.uuid4().hex[:12], self._caller, socket.gethostname(), os.getpid(), command, now
        )
        deadline = time.monotonic() + timeout
        poll = min(2.0, max(0.2, self.cfg.lock_lease / 10))
        while True:
            body = self._lock_body(info, _now())
            try:
                etag = self._write(
                    key, body, if_none_match=True, attempted=f"taking the lock of account {account}"
                )
                return self._hold(info, key, etag)
            except _Taken as taken:
                current = taken.current
            if current is not None:
                holder = self._lock_info(account, current)
                if holder.stale:
                    try:
                        etag = self._write(
                            key,
                            body,
                            expect=current.etag,
                            attempted=f"taking over the stale lock of account {account}",
                        )
                    except _Taken:
                        pass  # another waiter took it over first
                    else:
                        warn(
                            f"took over the stale lock of account {account}: its holder {holder.describe()} "
                            f"did not renew it for {holder.age:.0f} s (lease {format_duration(self.cfg.lock_lease)}): "
                            "that process is gone. Check what it left half done in the plan"
                        )
                        return self._hold(info, key, etag)
                if time.monotonic() >= deadline:
                    waited = f" (waited {timeout:g} s)" if timeout else ""
                    raise LockedError(
                        f"account {account} is locked{waited}: {holder.describe()}. Wait for it to finish, then "
                        "run the command again (or wait for it: --lock-timeout 5m). A holder that died leaves "
                        f"its lock until it is {format_duration(self.cfg.lock_lease)} without a heartbeat "
                        f"(lock_lease), then the next command takes it over; `iamlayer lock break {account} "
                        f"--id {holder.id}` removes it at once (only if you know it is dead)"
                    )
            time.sleep(max(0.0, min(poll, deadline - time.monotonic())))

    def _hold(self, info: LockInfo, key: str, etag: str) -> S3Held:
        held = S3Held(info, key, etag, self.cfg.lock_lease)
        held.thread = threading.Thread(
            target=self._heartbeat, args=(held,), name=f"iamlayer-lock-{info.account}", daemon=True
        )
        held.thread.start()
        return held

    def _heartbeat(self, held: S3Held) -> None:
        """Renew `held` every third of the lease until released, or until it is found lost."""
        while not held.stop.wait(self.cfg.lock_lease / 3):
            with held.guard:
                if held.stop.is_set():
                    return
                try:
                    sent = time.monotonic()
                    held.etag = self._write(
                        held.key,
                        self._lock_body(held.info, _now()),
                        expect=held.etag,
                        attempted=f"renewing the lock of account {held.info.account}",
                    )
                    held.renewed = sent  # S3 stamped the heartbeat after `sent`: the safe side
                except _Taken as taken:
                    now = self._lock_info(held.info.account, taken.current) if taken.current else None
                    held.lost = (
                        f"the lock of account {held.info.account} was taken from this command while it ran "
                        + (f"(now held by {now.describe()})" if now else "(it was broken)")
                    )
                    return
                except IamlayerError:
                    continue  # S3 unreachable for now: the next beat tries again, within the lease

    def release(self, held: Any) -> str | None:
        assert isinstance(held, S3Held)
        held.stop.set()
        with held.guard:
            pass  # a renewal in flight finishes first
        if held.thread is not None:
            held.thread.join()
        if held.lost:
            return held.lost
        try:
            self._write(
                held.key,
                None,
                expect=held.etag,
                attempted=f"releasing the lock of account {held.info.account}",
            )
        except _Taken as taken:
            now = self._lock_info(held.info.account, taken.current) if taken.current else None
            return f"the lock of account {held.info.account} was no longer this command's at its end" + (
                f" (held by {now.describe()})" if now else ""
            )
        return None

    def locks(self) -> list[LockInfo]:
        out: list[LockInfo] = []
        for key in self._list(self._key("locks") + "/"):
            obj = self._get(key)
            if obj is not None and key.endswith(".json"):
                out.append(self._lock_info(key.rsplit("/", 1)[-1][: -len(".json")], obj))
        return out

    def break_lock(self, account: str, lock_id: str) -> LockInfo:
        key = self._key("locks", f"{account}.json")
        obj = self._get(key)
        if obj is None:
            raise IamlayerError(f"account {account} is not locked (no s3://{self.cfg.bucket}/{key})")
        info = self._lock_info(account, obj)
        if info.id != lock_id:
            raise IamlayerError(
                f"the lock of account {account} is held by {info.describe()}, not by lock id {lock_id}: nothing "
                "was broken (a new holding has its own id; `iamlayer lock list` shows it)"
            )
        try:
            self._write(key, None, expect=obj.etag, attempted=f"breaking the lock of account {account}")
        except _Taken as taken:
            raise IamlayerError(
                f"the lock of account {account} changed while it was being broken (renewed or released): nothing "
                "was broken; if its holder renews it, it is alive"
            ) from taken
        return info

    def _list(self, prefix: str) -> Iterator[str]:
        for item, _etag in self._list_etags(prefix):
            yield item

    def _list_etags(self, prefix: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        try:
            with aws_call(f"listing s3://{self.cfg.bucket}/{prefix}"):
                for page in self.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=self.cfg.bucket, Prefix=prefix
                ):
                    out += [(str(o["Key"]), str(o["ETag"])) for o in page.get("Contents", [])]
        except AwsError as exc:
            raise self._mapped(exc) from exc
        return out

    # -- journal ----------------------------------------------------------------------------

    def journal(self) -> S3Journal:
        return S3Journal(self)

    # -- last apply ---------------------------------------------------------------------------

    def last_apply(self) -> LastApply | None:
        obj = self._get(self._key("last-apply.json"))
        return _last(obj)

    def record_apply(self, update: Callable[[LastApply | None], LastApply]) -> LastApply:
        key = self._key("last-apply.json")
        obj = self._get(key)
        for _ in range(20):
            record = update(_last(obj))
            body = (json.dumps(record.to_json(), indent=1) + "\n").encode()
            try:
                self._write(
                    key,
                    body,
                    expect=obj.etag if obj else None,
                    if_none_match=obj is None,
                    attempted="recording the apply",
                )
                return record
            except _Taken as taken:
                obj = taken.current  # another apply recorded meanwhile: merge with theirs
        raise IamlayerError("could not record the apply: the record kept changing under it")

    # -- ciphertexts ------------------------------------------------------------------------

    def ciphertexts(self) -> S3Ciphertexts:
        return S3Ciphertexts(self)

    def _state_path(self) -> Path:
        return self.spec.root / JOURNAL_DIR / SYNC_STATE

    def _load_state(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self._state_path().read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save_state(self, state: dict[str, dict[str, str]]) -> None:
        write_private_file(self._state_path(), json.dumps(state, indent=1, sort_keys=True).encode())

    def _noted(self, name: str, etag: str | None, digest: str = "") -> None:
        """Remember that the local file `name` is the backend's version `etag` (None: gone from both)."""
        with self._sync_lock:
            state = self._load_state()
            if etag is None:
                state.pop(name, None)
            else:
                state[name] = {"etag": etag, "sha256": digest}
            self._save_state(state)

    def sync_outputs(self, root: Any, *, push: bool) -> SyncResult:
        """Bring the outputs folder `root` and the backend's copy together, file by file.

        This clone remembers, per file, the backend's ETag and the content it last had in common
        with it (`.iamlayer/backend-outputs.json`). A file changed in the backend since is
        fetched; one deleted there is deleted here; one changed or made here only (its copy
        failed, or it predates the backend) is pushed, with `push`. Nothing is ever lost: a local
        file missing but still in the backend is fetched again.
        """
        root = Path(root)
        fetched: list[str] = []
        removed: list[str] = []
        pushed: list[str] = []
        with self._sync_lock:
            state = self._load_state()
            before = json.dumps(state, sort_keys=True)
            remote = {
                k[len(self._key("outputs")) + 1 :]: e for k, e in self._list_etags(self._key("outputs") + "/")
            }
            local = {str(p.relative_to(root)): p for p in _outbox_files(root)}
            for name, etag in sorted(remote.items()):
                known = state.get(name, {})
                path = local.get(name)
                digest = _sha256(path) if path else ""
                if path is not None and known.get("etag") == etag:
                    if push and digest != known.get("sha256"):
                        state[name] = {
                            "etag": self._put_ciphertext(name, path.read_bytes()),
                            "sha256": digest,
                        }
                        pushed.append(name)
                    continue
                if path is not None and not known and digest == _remote_digest(self, name):
                    state[name] = {"etag": etag, "sha256": digest}
                    continue
                obj = self._get(self._key("outputs", name))
                if obj is None:
                    continue  # deleted since the listing
                target = _safe(root, name)
                make_private_dir(root)
                write_private_file(target, obj.body)
                state[name] = {"etag": obj.etag, "sha256": hashlib.sha256(obj.body).hexdigest()}
                fetched.append(name)
            for name in sorted(set(state) - set(remote)):
                path = local.get(name)
                if path is not None and push and _sha256(path) != state[name].get("sha256"):
                    del state[name]  # changed here since it was deleted there: kept, and pushed below
                    continue
                if path is not None:
                    remove_durably(path)
                    removed.append(name)
                del state[name]
            if push:
                for name, path in sorted(local.items()):
                    if name not in remote and name not in state and path.exists():
                        data = path.read_bytes()
                        state[name] = {
                            "etag": self._put_ciphertext(name, data),
                            "sha256": hashlib.sha256(data).hexdigest(),
                        }
                        pushed.append(name)
            if json.dumps(state, sort_keys=True) != before:
                self._save_state(state)
        return SyncResult(tuple(fetched), tuple(removed), tuple(pushed))

    def _put_ciphertext(self, name: str, data: bytes) -> str:
        return self._write(self._key("outputs", name), data, attempted=f"copying {name} to the backend")


class S3Journal:
    """The journal's records in the bucket: `journal/<account>.json`, written by the lock's holder."""

    def __init__(self, backend: S3Backend) -> None:
        self.b = backend
        self._seen: dict[str, AccountJournal] = {}
        self._listed: set[str] | None = None  # the records there are (a record is deleted once empty)

    def read(self, account: str) -> AccountJournal:
        if self._listed is None:
            self._listed = {k for k, _etag in self.b._list_etags(self.b._key("journal") + "/")}
        key = self.b._key("journal", f"{account}.json")
        if account not in self._seen:
            obj = self.b._get(key) if key in self._listed else None
            data = json.loads(obj.body) if obj is not None else {}
            self._seen[account] = data if isinstance(data, dict) else {}
        copy: AccountJournal = json.loads(json.dumps(self._seen[account]))  # the caller's to change
        return copy

    def write(self, account: str, data: AccountJournal) -> None:
        key = self.b._key("journal", f"{account}.json")
        kept = {entry: names for entry, names in data.items() if names}
        attempted = f"writing the journal of account {account}"
        if kept:
            self.b._write(
                key, (json.dumps(kept, indent=1, sort_keys=True) + "\n").encode(), attempted=attempted
            )
        else:
            self.b._write(key, None, attempted=attempted)
        if self._listed is not None:
            (self._listed.add if kept else self._listed.discard)(key)
        self._seen[account] = json.loads(json.dumps(kept))


class S3Ciphertexts:
    """The backend's copy of the outbox, written after each local write (iamlayer.secrets.outbox)."""

    def __init__(self, backend: S3Backend) -> None:
        self.b = backend

    def put(self, name: str, data: bytes) -> None:
        etag = self.b._put_ciphertext(name, data)
        self.b._noted(name, etag, hashlib.sha256(data).hexdigest())

    def delete(self, name: str) -> None:
        self.b._write(self.b._key("outputs", name), None, attempted=f"deleting {name} from the backend")
        self.b._noted(name, None)


def with_tls_only(policy: dict[str, Any] | None, bucket: str) -> dict[str, Any] | None:
    """`policy` (None: no policy yet) with the statement denying requests without TLS added; None
    when it has it already. The bucket's other statements are kept as they are."""
    policy = policy or {"Version": "2012-10-17", "Statement": []}
    statements = [s for s in policy.get("Statement", []) if isinstance(s, dict)]
    if any(s.get("Sid") == TLS_SID for s in statements):
        return None
    deny = {
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return {**policy, "Statement": [*statements, deny]}


def _outbox_files(root: Path) -> list[Path]:
    """The outbox's files: `<account>/<user>/<file>`, without the temporary files of atomic writes,
    and the record of the organization the last apply saw (people's commands resolve with it)."""
    if not root.is_dir():
        return []
    files = [p for p in root.glob("*/*/*") if p.is_file() and not p.name.startswith(".")]
    return files + [p for p in (root / ORGANIZATION_FILE,) if p.is_file()]


def _safe(root: Path, name: str) -> Path:
    """`root/name` for a name from the bucket, refused unless it is `<account>/<user>/<file>` (or
    the record of the organization)."""
    if name == ORGANIZATION_FILE:
        return root / name
    parts = name.split("/")
    if len(parts) != 3 or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise IamlayerError(f"refusing the backend's file {name!r}: not <account>/<user>/<file>")
    return root.joinpath(*parts)


def _sha256(path: Path | None) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path else ""
    except FileNotFoundError:
        return ""


def _remote_digest(b: S3Backend, name: str) -> str:
    obj = b._get(b._key("outputs", name))
    return hashlib.sha256(obj.body).hexdigest() if obj else ""


def _last(obj: _Object | None) -> LastApply | None:
    if obj is None:
        return None
    try:
        data = json.loads(obj.body)
    except ValueError:
        return None
    return LastApply.from_json(data) if isinstance(data, dict) else None


def _age(response: dict[str, Any]) -> float:
    """Seconds since the object was last written, by S3's clock: its LastModified against the Date
    of this answer (a skewed local clock plays no part)."""
    modified = response.get("LastModified")
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        now = parsedate_to_datetime(date) if date else datetime.now(UTC)
    except (TypeError, ValueError):
        now = datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)  # an HTTP date is GMT, whatever its zone says
    if not isinstance(modified, datetime):
        return 0.0
    return max(0.0, (now - modified).total_seconds())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
