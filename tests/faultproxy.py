"""A small fault-injecting HTTP proxy in front of the moto server, for what the emulator cannot do.

It forwards every request to the emulator, except where a rule matches the request (by the AWS
`Action=` in the form body, and optionally a substring of the body):
- `throttle`: answer AWS's Throttling error instead of forwarding (the first `times` matches);
- `deny`: answer AccessDenied instead of forwarding;
- `hold_before`: block, then drop the request: the call never reaches AWS;
- `hold_after`: forward, then block before answering (AWS did it, the caller never hears);
- `applied_then_conflict`: forward, then answer EntityAlreadyExists, as AWS answers a retried
  create whose first attempt went through;
- `applied_then_500`: forward, then answer an HTTP 500 (AWS did it, the answer was lost);
- `error`: answer the rule's `code`, `message` and `status` instead of forwarding (e.g. the
  InvalidAuthenticationCode AWS gives for a mistyped MFA code, which the emulator never does);
- `expired`: answer ExpiredToken instead of forwarding, as AWS answers temporary credentials
  past their expiry.
Holding lets a test SIGKILL a real `iamlayer apply` at an exact point of its protocol.

It also records every request as a `Call`: the action, the access key that signed it (from the
`Credential=AKID/...` of the Authorization header), its parameters, its time and answer status,
and the `label` the test set for the command being run. From the answers of sts:GetSessionToken
and sts:AssumeRole it learns each temporary key (`sessions`): who asked for it, whether MFA
was used (directly, or inherited from the session that signed the request) and when the MFA code
was checked. This is what evaluating each call as AWS would needs (tests/e2e/test_person_path.py).
"""

from __future__ import annotations

import http.client
import re
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

THROTTLE_XML = (
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
    "<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>fault-proxy</RequestId>"
    "</ErrorResponse>"
)
CONFLICT_XML = (
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
    "<Code>EntityAlreadyExists</Code><Message>Login Profile for user already exists.</Message></Error>"
    "<RequestId>fault-proxy</RequestId></ErrorResponse>"
)
EXPIRED_XML = (
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
    "<Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message>"
    "</Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
)
INTERNAL_XML = (
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Receiver</Type>'
    "<Code>ServiceFailure</Code><Message>Internal failure</Message></Error>"
    "<RequestId>fault-proxy</RequestId></ErrorResponse>"
)
DENY_XML = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
    "<Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole</Message></Error>"
    "<RequestId>fault-proxy</RequestId></ErrorResponse>"
)


def error_xml(code: str, message: str) -> str:
    return (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId>"
        "</ErrorResponse>"
    )


_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/")


@dataclass
class Rule:
    action: str  # AWS query Action, e.g. "CreateLoginProfile"
    # throttle | deny | error | expired | hold_before | hold_after | applied_then_conflict | applied_then_500
    mode: str
    contains: str = ""  # a substring the (URL-decoded) body must contain
    times: int = 1_000_000  # how many matches the rule applies to
    code: str = ""  # for `error`
    message: str = ""  # for `error`
    status: int = 400  # for `error`
    hits: int = 0
    reached: threading.Event = field(default_factory=threading.Event)  # set on the first match
    release: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Call:
    """One request as it reached the proxy."""

    label: str  # what the test was running (FaultProxy.label at the time)
    service: str  # from the signature's credential scope: "iam", "sts"
    action: str  # the query Action, e.g. "ListMFADevices"
    access_key_id: str  # the key that signed the request ("" if unsigned)
    params: dict[str, str]  # the form parameters (first value of each)
    time: float  # time.time() when the request arrived
    status: int = 0  # the HTTP status answered

    @property
    def name(self) -> str:
        """The IAM action name: service:Action."""
        return f"{self.service}:{self.action}"


@dataclass(frozen=True)
class Session:
    """A temporary access key, learned from a GetSessionToken or AssumeRole answer."""

    access_key_id: str
    via: str  # "GetSessionToken" or "AssumeRole"
    signer: str  # the access key that asked for it
    mfa: bool  # MFA was used to get it (in that request, or by the session that signed it)
    mfa_time: float | None  # when the MFA code was checked
    arn: str | None  # AssumedRoleUser.Arn for role sessions


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        u = urllib.parse.urlparse(upstream)
        self.host, self.port_up = u.hostname or "127.0.0.1", u.port or 80
        self.rules: list[Rule] = []
        self.seen: list[str] = []
        self.bodies: dict[str, list[str]] = {}  # action -> URL-decoded request bodies, in order
        self.calls: list[Call] = []
        self.sessions: dict[str, Session] = {}  # temporary access key id -> what it is
        self.label = ""
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                conn = http.client.HTTPConnection(proxy.host, proxy.port_up, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                hdrs = [
                    (k, v)
                    for k, v in resp.getheaders()
                    if k.lower() not in ("transfer-encoding", "connection", "content-length")
                ]
                conn.close()
                return resp.status, hdrs, data

            def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                text = urllib.parse.unquote_plus(body.decode("utf-8", "replace"))
                params = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
                action = (params.get("Action") or [""])[0]
                rule = proxy._match(action, text)
                proxy.seen.append(action)
                proxy.bodies.setdefault(action, []).append(text)
                signed = _CREDENTIAL.search(self.headers.get("Authorization", ""))
                call = Call(
                    label=proxy.label,
                    service=signed.group(2) if signed else "",
                    action=action,
                    access_key_id=signed.group(1) if signed else "",
                    params={k: v[0] for k, v in params.items() if k != "Action"},
                    time=time.time(),
                )
                if rule and rule.mode == "throttle":
                    self._answer(400, [("Content-Type", "text/xml")], THROTTLE_XML.encode())
                    proxy._record(call, 400, b"")
                    return
                if rule and rule.mode == "deny":
                    self._answer(403, [("Content-Type", "text/xml")], DENY_XML.encode())
                    proxy._record(call, 403, b"")
                    return
                if rule and rule.mode == "error":
                    self._answer(
                        rule.status,
                        [("Content-Type", "text/xml")],
                        error_xml(rule.code, rule.message).encode(),
                    )
                    proxy._record(call, rule.status, b"")
                    return
                if rule and rule.mode == "expired":
                    self._answer(403, [("Content-Type", "text/xml")], EXPIRED_XML.encode())
                    proxy._record(call, 403, b"")
                    return
                if rule and rule.mode == "hold_before":
                    proxy._record(call, 0, b"")
                    rule.reached.set()
                    rule.release.wait(120)
                    self.close_connection = True
                    return  # the call never reaches AWS, even once released
                status, headers, data = self._forward(body)
                proxy._record(call, status, data)
                if rule and rule.mode == "applied_then_conflict":
                    self._answer(409, [("Content-Type", "text/xml")], CONFLICT_XML.encode())
                    return
                if rule and rule.mode == "applied_then_500":
                    self._answer(500, [("Content-Type", "text/xml")], INTERNAL_XML.encode())
                    return
                if rule and rule.mode == "hold_after":
                    rule.reached.set()
                    rule.release.wait(120)
                self._answer(status, headers, data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _match(self, action: str, text: str) -> Rule | None:
        with self._lock:
            for r in self.rules:
                if r.action == action and r.contains in text and r.hits < r.times:
                    r.hits += 1
                    return r
        return None

    def _record(self, call: Call, status: int, answer: bytes) -> None:
        done = replace(call, status=status)
        session = _session_of(done, answer, self.sessions) if status == 200 else None
        with self._lock:
            self.calls.append(done)
            if session is not None:
                self.sessions[session.access_key_id] = session

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            for r in self.rules:
                r.release.set()
            self.rules.clear()

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()
        self.server.shutdown()
        self.server.server_close()


def _text(root: ET.Element, name: str) -> str | None:
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == name and el.text:
            return el.text.strip()
    return None


def _session_of(call: Call, answer: bytes, known: dict[str, Session]) -> Session | None:
    """The temporary key a successful GetSessionToken or AssumeRole answered with, if any."""
    if call.action not in ("GetSessionToken", "AssumeRole"):
        return None
    try:
        root = ET.fromstring(answer)
    except ET.ParseError:
        return None
    key = _text(root, "AccessKeyId")
    if not key:
        return None
    parent = known.get(call.access_key_id)
    if call.params.get("SerialNumber") and call.params.get("TokenCode"):
        mfa, mfa_time = True, call.time
    elif parent is not None and parent.mfa:
        mfa, mfa_time = True, parent.mfa_time  # a role session keeps its caller's MFA context
    else:
        mfa, mfa_time = False, None
    arn = _text(root, "Arn") if call.action == "AssumeRole" else None
    return Session(key, call.action, call.access_key_id, mfa, mfa_time, arn)
