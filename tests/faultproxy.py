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
- `expired`: answer ExpiredToken instead of forwarding, as AWS answers temporary credentials
  past their expiry.
Holding lets a test SIGKILL a real `iamlayer apply` at an exact point of its protocol.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from dataclasses import dataclass, field
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


@dataclass
class Rule:
    action: str  # AWS query Action, e.g. "CreateLoginProfile"
    mode: (
        str  # throttle | deny | expired | hold_before | hold_after | applied_then_conflict | applied_then_500
    )
    contains: str = ""  # a substring the (URL-decoded) body must contain
    times: int = 1_000_000  # how many matches the rule applies to
    hits: int = 0
    reached: threading.Event = field(default_factory=threading.Event)  # set on the first match
    release: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        u = urllib.parse.urlparse(upstream)
        self.host, self.port_up = u.hostname or "127.0.0.1", u.port or 80
        self.rules: list[Rule] = []
        self.seen: list[str] = []
        self.bodies: dict[str, list[str]] = {}  # action -> URL-decoded request bodies, in order
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
                if rule and rule.mode == "throttle":
                    self._answer(400, [("Content-Type", "text/xml")], THROTTLE_XML.encode())
                    return
                if rule and rule.mode == "deny":
                    self._answer(403, [("Content-Type", "text/xml")], DENY_XML.encode())
                    return
                if rule and rule.mode == "expired":
                    self._answer(403, [("Content-Type", "text/xml")], EXPIRED_XML.encode())
                    return
                if rule and rule.mode == "hold_before":
                    rule.reached.set()
                    rule.release.wait(120)
                    self.close_connection = True
                    return  # the call never reaches AWS, even once released
                status, headers, data = self._forward(body)
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
