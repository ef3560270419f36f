"""Loaded by Python at start when this folder is on PYTHONPATH: see tests/loopback_only.py."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "loopback_only", Path(__file__).resolve().parent.parent / "loopback_only.py"
)
assert _spec is not None and _spec.loader is not None
_guard = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_guard)
_guard.install_from_env()
