"""The HTML audit report opened in headless Chromium: the summary is rendered and visible.

Needs the Debian packages chromium and chromium-driver (installed by the test set-up); skipped,
saying so, only when no chromium binary is found.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

from iamlayer.audit.controls import run_controls
from iamlayer.audit.model import AuditInput
from iamlayer.audit.report import AuditReport, render_html
from iamlayer.aws.audit_reads import read_audit_input
from iamlayer.aws.session import AccountClients, ApiStats

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=90, check=False)


def test_html_report_renders_in_chromium(aws_env: dict[str, str], iam: object, tmp_path: Path) -> None:
    clients = AccountClients(boto3.Session(region_name="us-east-1"), "security", ApiStats())
    inputs = [
        read_audit_input(clients, "security", ["us-east-1"], account_id="123456789012", report_wait=10),
        AuditInput.unreachable("apps", "555555555555", "AccessDenied: sts:AssumeRole", ("us-east-1",)),
    ]
    now = inputs[0].read_at
    report = AuditReport.build(inputs, run_controls(inputs, now), "cis-4.0", now)
    page = tmp_path / "audit.html"
    page.write_text(render_html(report), encoding="utf-8")

    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Summary per account" in dom.stdout and "Summary per control" in dom.stdout
    assert "security" in dom.stdout and "apps" in dom.stdout and "Credential report age" in dom.stdout

    shot = tmp_path / "audit.png"
    res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
