"""Where a spec's local records live: the outbox of encrypted secrets beside the spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from iamlayer.errors import IamlayerError
from iamlayer.files import write_private_file
from iamlayer.secrets.outbox import Outbox
from iamlayer.spec.load import resolve_organization
from iamlayer.spec.model import Spec
from iamlayer.spec.organization import OrgView


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


#: the organization the last apply resolved the spec against (`accounts: {organization: true}`,
#: `ou:` selectors), beside the ciphertexts: people's commands resolve the spec with it
ORGANIZATION_FILE = "organization.json"


def record_organization(spec: Spec, credentials: Any = None) -> None:
    """Keep the organization `spec` was resolved against in outputs/ (and the shared backend), so
    that the commands people run (credentials configure, onboard, outputs), who may not read
    Organizations, see the same accounts as the apply. Not secret: ids and names only."""
    if spec.organization is None:
        return
    data = (json.dumps(spec.organization.to_json(), indent=2, sort_keys=True) + "\n").encode()
    path = outputs_root(spec) / ORGANIZATION_FILE
    if path.exists() and path.read_bytes() == data:
        return
    write_private_file(path, data)
    if spec.backend is not None:
        from iamlayer.state.backends import open_backend

        copies = open_backend(spec, credentials).ciphertexts()
        if copies is not None:
            copies.put(ORGANIZATION_FILE, data)


def recorded_organization(spec: Spec) -> OrgView | None:
    path = outputs_root(spec) / ORGANIZATION_FILE
    try:
        return OrgView.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise IamlayerError(
            f"{path} is not a record of the organization ({exc}): run `iamlayer outputs sync`"
        ) from exc


def people_spec(spec: Spec) -> Spec:
    """The spec as the commands people run see it. One whose accounts come from the organization is
    resolved against the organization the last apply recorded (`record_organization`), not read
    again: people's credentials do not reach Organizations."""
    if not spec.unresolved:
        return spec
    view = recorded_organization(spec)
    if view is None:
        raise IamlayerError(
            f"the accounts of {spec.path} come from the organization, and "
            f"{outputs_root(spec) / ORGANIZATION_FILE} (written by each apply) is not here: run "
            "`iamlayer outputs sync` (with a shared backend), or ask an operator to apply first"
        )
    return resolve_organization(spec, view)
