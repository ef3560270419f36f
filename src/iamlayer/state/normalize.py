"""Canonical policy documents, so that equal policies compare equal however they were written.

IAM treats `"Action": "s3:GetObject"` and `"Action": ["s3:GetObject"]` alike, ignores the order of
actions and resources, and returns documents with its own key order; a diff must not show those as
changes. Statement order is kept: people order statements on purpose, and reordering is harmless.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

_LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")


def _as_sorted_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        items = [str(v) if not isinstance(v, str) else v for v in value]
        return sorted(set(items))
    return value


def _principal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _as_sorted_list(v) for k, v in sorted(value.items())}
    return value  # "*"


def _condition(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for op, block in sorted(value.items()):
        if isinstance(block, Mapping):
            out[op] = {
                k: [str(x).lower() if isinstance(x, bool) else str(x) for x in _as_sorted_list(v)]
                if isinstance(v, list | tuple)
                else _scalar(v)
                for k, v in sorted(block.items())
            }
        else:
            out[op] = block
    return out


def _scalar(v: Any) -> list[str]:
    # IAM stores condition values as strings: true -> "true", 3600 -> "3600".
    if isinstance(v, bool):
        return [str(v).lower()]
    return [str(v)]


def normalize_statement(st: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in sorted(st.items()):
        if key in _LIST_KEYS:
            out[key] = _as_sorted_list(value)
        elif key in ("Principal", "NotPrincipal"):
            out[key] = _principal(value)
        elif key == "Condition":
            out[key] = _condition(value)
        else:
            out[key] = value
    return out


def normalize(doc: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """Return the canonical form of a policy document (dict, JSON text, or URL-encoded JSON)."""
    if doc is None:
        return {}
    if isinstance(doc, str):
        text = doc if doc.lstrip().startswith("{") else unquote(doc)
        doc = json.loads(text)
        assert isinstance(doc, Mapping)
    statements = doc.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    out: dict[str, Any] = {"Version": doc.get("Version", "2012-10-17")}
    if "Id" in doc:
        out["Id"] = doc["Id"]
    out["Statement"] = [normalize_statement(s) for s in statements]
    return out
