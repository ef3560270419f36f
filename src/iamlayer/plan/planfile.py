"""Plan files: a plan saved by `iamlayer plan --out` (or `iamlayer.save_plan`), read back for apply.

The file is the plan's JSON document (iamlayer.plan.model), written atomically with mode 0600.
"""

from __future__ import annotations

import json
from pathlib import Path

from iamlayer.errors import PlanError
from iamlayer.files import write_private_file
from iamlayer.plan.model import Plan, plan_from_json, plan_to_json


def save_plan(plan: Plan, path: Path) -> None:
    """Write `plan` as its JSON document to `path`, mode 0600, atomically."""
    write_private_file(path, (json.dumps(plan_to_json(plan), indent=1) + "\n").encode())


def load_plan(path: Path) -> Plan:
    """Read a plan saved by `iamlayer plan --out`; PlanError says what is wrong with any other file."""
    where = f"{path} is not a usable iamlayer plan"
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{where}: cannot read it ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"{where}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); save a plan with "
            "`iamlayer plan --out FILE`"
        ) from None
    if not isinstance(data, dict) or "format_version" not in data:
        raise PlanError(
            f"{where}: JSON, but not a plan (no format_version); save one with `iamlayer plan --out FILE`"
        )
    try:
        return plan_from_json(data)
    except PlanError as exc:
        raise PlanError(f"{where}: {exc}") from None
