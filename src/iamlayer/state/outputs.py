"""Where a spec's local records live: the outbox of encrypted secrets beside the spec."""

from __future__ import annotations

from iamlayer.secrets.outbox import Outbox
from iamlayer.spec.model import Spec


def outbox_for(spec: Spec) -> Outbox:
    """The spec's outbox: `outputs_dir`, by default `outputs/` beside the spec file."""
    return Outbox(spec.outputs_dir or spec.root / "outputs")
