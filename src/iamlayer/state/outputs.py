"""Where a spec's local records live: the outbox of encrypted secrets beside the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iamlayer.secrets.outbox import Outbox
from iamlayer.spec.model import Spec


def outputs_root(spec: Spec) -> Path:
    """The spec's outputs folder: `outputs_dir`, by default `outputs/` beside the spec file."""
    return spec.outputs_dir or spec.root / "outputs"


def outbox_for(spec: Spec, credentials: Any = None, *, writing: bool = False) -> Outbox:
    """The spec's outbox. `writing`: a command that issues or removes secrets, whose every file is
    then copied to a shared backend (reached with `credentials`; see iamlayer.state.backends)."""
    if writing and spec.backend is not None:
        from iamlayer.state.backends import open_backend

        return Outbox(outputs_root(spec), open_backend(spec, credentials).ciphertexts())
    return Outbox(outputs_root(spec))
