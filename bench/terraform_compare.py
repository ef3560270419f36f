"""Measure Terraform + the AWS provider doing bench_plan.py's single-account job on the same emulator.

    python bench/terraform_compare.py --users 100 1000            # 5 groups (issue 2's case)
    python bench/terraform_compare.py --users 100 --groups 10     # bench_plan.py's shape

Each case starts a fresh embedded emulator and a small counting HTTP proxy in front of it, writes
a Terraform config in a temporary directory (aws_iam_user, aws_iam_group,
aws_iam_group_policy_attachment with arn:aws:iam::aws:policy/ReadOnlyAccess and
aws_iam_user_group_membership, all `for_each` over locals; groups `team-NN`, users `user-NNNN`,
user u in group u % groups, as single_account_spec() in bench_plan.py), then runs
`terraform init` (not timed), `terraform apply -auto-approve` and the no-op
`terraform plan -detailed-exitcode` (which must exit 0).

Terraform runs offline: a CLI config of our own (TF_CLI_CONFIG_FILE) installs the provider only
from the filesystem mirror in /opt/tf-plugins; its only network peer is the proxy on 127.0.0.1.

API calls are counted by the proxy, one per HTTP request (retries included), by the `Action=`
form or query parameter or the X-Amz-Target header. Memory is measured two ways: the peak of the
summed RSS of terraform and all its descendants (the provider plugin), sampled from /proc every
100 ms, and the largest single process's maximum RSS from wait4() (what `/usr/bin/time -v` reports
as "Maximum resident set size"). Results are printed one line per case and written to
bench/results/terraform-<case>.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from iamlayer.sandbox.emulator import start_emulator

RESULTS = Path(__file__).resolve().parent / "results"
MIRROR = Path("/opt/tf-plugins")
POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- counting proxy -------------------------------------------------------------------------------


class CountingProxy:
    """A ThreadingHTTPServer on 127.0.0.1 that forwards every request to `upstream` and counts it."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()  # responses with status >= 400, by operation
        self.local = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the AWS SDK expects

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                op = proxy.operation(self.command, self.path, self.headers, body)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                status, reason, resp_headers, data = proxy.send_upstream(
                    self.command, self.path, headers, body
                )
                with proxy.lock:
                    proxy.calls[op] += 1
                    if status >= 400:
                        proxy.errors[f"{op} {status}"] += 1
                self.send_response(status, reason)
                for k, v in resp_headers:
                    if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def operation(method: str, path: str, headers: Any, body: bytes) -> str:
        target = headers.get("X-Amz-Target")
        if target:
            return str(target).rsplit(".", 1)[-1]
        query = parse_qs(urlsplit(path).query)
        if "Action" in query:
            return query["Action"][0]
        if body and "x-www-form-urlencoded" in (headers.get("Content-Type") or ""):
            form = parse_qs(body.decode("utf-8", "replace"))
            if "Action" in form:
                return form["Action"][0]
        return f"{method} {urlsplit(path).path}"

    def send_upstream(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        for attempt in range(2):  # one reconnect if the kept-alive upstream connection went stale
            conn: http.client.HTTPConnection | None = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=300)
                self.local.conn = conn
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp.reason, resp.getheaders(), data
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def take(self) -> tuple[Counter[str], Counter[str]]:
        """The counts so far, and start again from zero."""
        with self.lock:
            calls, errors = self.calls, self.errors
            self.calls, self.errors = Counter(), Counter()
        return calls, errors

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- process tree memory ---------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def _tree_rss(root: int) -> int:
    """Summed RSS in bytes of `root` and all its descendants (0 for processes already gone)."""
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        todo += _children(pid)
    return total


def run_terraform(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float, ok_codes: tuple[int, ...] = (0,)
) -> dict[str, Any]:
    """Run terraform; wall seconds, peak summed tree RSS, largest single-process max RSS, output."""
    out_path, err_path = cwd / f".out-{args[0]}.txt", cwd / f".err-{args[0]}.txt"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            ["terraform", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so a timeout kills only what we started
        )
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                done.wait(0.1)

        def kill() -> None:
            if proc.returncode is None:
                os.killpg(proc.pid, signal.SIGKILL)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        watchdog.cancel()
        done.set()
        sampler.join()
    stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    if proc.returncode not in ok_codes:
        raise SystemExit(
            f"terraform {' '.join(args)} exited {proc.returncode} after {wall:.1f} s"
            f"{' (killed by the timeout)' if proc.returncode == -signal.SIGKILL else ''}:\n"
            f"{stdout[-2000:]}\n{stderr[-3000:]}"
        )
    return {
        "seconds": wall,
        "returncode": proc.returncode,
        "peak_tree_rss": peak,
        # ru_maxrss is in KiB on Linux: terraform or the provider, whichever was larger
        "max_single_rss": usage.ru_maxrss * 1024,
        "stdout": stdout,
        "stderr": stderr,
    }


# --- config -----------------------------------------------------------------------------------------


def provider_version() -> str:
    versions = sorted((MIRROR / "registry.terraform.io/hashicorp/aws").iterdir())
    if not versions:
        raise SystemExit(f"no hashicorp/aws provider in {MIRROR}")
    return versions[-1].name


def cli_config() -> str:
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{MIRROR}"\n'
        '    include = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "}\n"
    )


def terraform_config(users: int, groups: int, endpoint: str, version: str, membership: str) -> str:
    group_names = [f"team-{g:02d}" for g in range(groups)]
    user_groups = {f"user-{u:04d}": f"team-{u % groups:02d}" for u in range(users)}
    lines = [
        "terraform {",
        "  required_providers {",
        f'    aws = {{ source = "hashicorp/aws", version = "{version}" }}',
        "  }",
        "}",
        "",
        'provider "aws" {',
        '  region                      = "us-east-1"',
        '  access_key                  = "testing"',
        '  secret_key                  = "testing"',
        "  skip_credentials_validation = true",
        "  skip_requesting_account_id  = true",
        "  skip_metadata_api_check     = true",
        "  endpoints {",
        f'    iam = "{endpoint}"',
        f'    sts = "{endpoint}"',
        "  }",
        "}",
        "",
        "locals {",
        "  groups = [" + ", ".join(f'"{g}"' for g in group_names) + "]",
        "  users = {",
        *[f'    "{u}" = "{g}"' for u, g in user_groups.items()],
        "  }",
        "}",
        "",
        'resource "aws_iam_group" "team" {',
        "  for_each = toset(local.groups)",
        "  name     = each.key",
        "}",
        "",
        'resource "aws_iam_group_policy_attachment" "team" {',
        "  for_each   = aws_iam_group.team",
        "  group      = each.value.name",
        f'  policy_arn = "{POLICY_ARN}"',
        "}",
        "",
        'resource "aws_iam_user" "user" {',
        "  for_each = local.users",
        "  name     = each.key",
        "}",
        "",
    ]
    if membership == "user":
        lines += [
            'resource "aws_iam_user_group_membership" "user" {',
            "  for_each = local.users",
            "  user     = aws_iam_user.user[each.key].name",
            "  groups   = [aws_iam_group.team[each.value].name]",
            "}",
        ]
    else:
        lines += [
            'resource "aws_iam_group_membership" "team" {',
            "  for_each = aws_iam_group.team",
            '  name     = "${each.key}-members"',
            "  group    = each.value.name",
            "  users    = [for u, g in local.users : aws_iam_user.user[u].name if g == each.key]",
            "}",
        ]
    return "\n".join(lines) + "\n"


def terraform_env(cli_config_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "TF_")) and k.lower() not in {"http_proxy", "https_proxy", "all_proxy"}
    }
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(cli_config_path),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    return env


# --- one case ---------------------------------------------------------------------------------------


def bench(
    case: str, users: int, groups: int, membership: str, workdir: Path, version: str, timeout: float
) -> dict[str, Any]:
    emu = start_emulator()
    proxy = CountingProxy(emu.url)
    try:
        (workdir / "cli.tfrc").write_text(cli_config())
        (workdir / "main.tf").write_text(terraform_config(users, groups, proxy.url, version, membership))
        env = terraform_env(workdir / "cli.tfrc")
        run_terraform(["init", "-input=false", "-no-color"], workdir, env, timeout)
        init_calls, _ = proxy.take()
        if init_calls:
            raise SystemExit(f"terraform init made API calls: {dict(init_calls)}")

        apply = run_terraform(
            ["apply", "-auto-approve", "-input=false", "-no-color"], workdir, env, timeout, ok_codes=(0, 1)
        )
        apply_calls, apply_errors = proxy.take()
        mib = 1024 * 1024
        tool = f"terraform {terraform_version(env)} + hashicorp/aws {version}"
        if apply["returncode"] != 0:
            # Keep what was measured: how long it ran, what it called and why it failed.
            messages = Counter(re.findall(r"Error: (.+?)(?: \(|:)", apply["stderr"]))
            return {
                "case": case,
                "tool": tool,
                "users": users,
                "groups": groups,
                "apply_failed": True,
                "apply_seconds": round(apply["seconds"], 2),
                "apply_api_calls": sum(apply_calls.values()),
                "apply_calls_by_operation": dict(sorted(apply_calls.items())),
                "apply_error_responses": dict(sorted(apply_errors.items())),
                "apply_error_messages": dict(messages),
                "apply_stderr_tail": apply["stderr"][-1500:],
                "peak_memory_mib_apply": round(apply["peak_tree_rss"] / mib, 1),
            }
        m = re.search(r"Resources: (\d+) added, (\d+) changed, (\d+) destroyed", apply["stdout"])
        changes = sum(int(x) for x in m.groups()) if m else None

        plan = run_terraform(
            ["plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock=false"],
            workdir,
            env,
            timeout,
        )
        plan_calls, plan_errors = proxy.take()
        return {
            "case": case,
            "tool": tool,
            "users": users,
            "groups": groups,
            "membership_resource": (
                "aws_iam_user_group_membership" if membership == "user" else "aws_iam_group_membership"
            ),
            "parallelism": 10,
            "apply_seconds": round(apply["seconds"], 2),
            "apply_changes": changes,
            "apply_api_calls": sum(apply_calls.values()),
            "apply_calls_by_operation": dict(sorted(apply_calls.items())),
            "apply_error_responses": dict(sorted(apply_errors.items())),
            "noop_plan_seconds": round(plan["seconds"], 2),
            "noop_plan_api_calls": sum(plan_calls.values()),
            "noop_plan_calls_by_operation": dict(sorted(plan_calls.items())),
            "noop_plan_error_responses": dict(sorted(plan_errors.items())),
            "peak_memory_mib": round(max(apply["peak_tree_rss"], plan["peak_tree_rss"]) / mib, 1),
            "peak_memory_mib_apply": round(apply["peak_tree_rss"] / mib, 1),
            "peak_memory_mib_noop_plan": round(plan["peak_tree_rss"] / mib, 1),
            "largest_process_max_rss_mib": round(
                max(apply["max_single_rss"], plan["max_single_rss"]) / mib, 1
            ),
            "notes": (
                "API calls: one per HTTP request seen by a counting proxy in front of the emulator, "
                "retries included. peak_memory_mib: max over apply and the no-op plan of the summed "
                "RSS of terraform and its descendants (the provider plugin), sampled from /proc every "
                "100 ms. largest_process_max_rss_mib: ru_maxrss from wait4(), as /usr/bin/time -v "
                "reports it (the larger of terraform and the provider, not their sum)."
            ),
        }
    finally:
        proxy.stop()
        emu.stop()


def terraform_version(env: dict[str, str]) -> str:
    out = subprocess.run(
        ["terraform", "version", "-json"], env=env, capture_output=True, text=True, check=True
    )
    return str(json.loads(out.stdout)["terraform_version"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, nargs="+", default=[100])
    ap.add_argument(
        "--groups", type=int, choices=[5, 10], default=5, help="5 (issue 2) or 10 (bench_plan.py)"
    )
    ap.add_argument(
        "--membership",
        choices=["user", "group"],
        default="user",
        help="aws_iam_user_group_membership per user (default) or aws_iam_group_membership per group",
    )
    ap.add_argument("--timeout", type=float, default=1800, help="seconds allowed per terraform command")
    args = ap.parse_args()
    if shutil.which("terraform") is None:
        raise SystemExit("terraform is not on PATH")
    version = provider_version()
    RESULTS.mkdir(exist_ok=True)
    for n in args.users:
        case = f"single-{n}-users-{args.groups}-groups" + (
            "-group-membership" if args.membership == "group" else ""
        )
        with tempfile.TemporaryDirectory(prefix="tf-bench-") as d:
            row = bench(case, n, args.groups, args.membership, Path(d), version, args.timeout)
        (RESULTS / f"terraform-{case}.json").write_text(json.dumps(row, indent=2) + "\n")
        if row.get("apply_failed"):
            print(
                f"terraform-{case}: apply FAILED after {row['apply_seconds']} s "
                f"({row['apply_api_calls']} calls, error responses {row['apply_error_responses']}, "
                f"errors {row['apply_error_messages']}); no-op plan not run",
                flush=True,
            )
            continue
        print(
            f"terraform-{case}: apply {row['apply_seconds']} s ({row['apply_changes']} changes, "
            f"{row['apply_api_calls']} calls); no-op plan {row['noop_plan_seconds']} s, "
            f"{row['noop_plan_api_calls']} calls {row['noop_plan_calls_by_operation']}; "
            f"peak {row['peak_memory_mib']} MiB (summed RSS of terraform + provider, /proc every 100 ms; "
            f"largest single process {row['largest_process_max_rss_mib']} MiB by wait4); "
            "calls are HTTP requests seen by a counting proxy, retries included",
            flush=True,
        )


if __name__ == "__main__":
    main()
