"""The two imports end to end: read, build the spec, write the layer folder, prove it loads.

    import_aws(out, ...)        a live organization (or one account), through plan's bulk reads
    import_terraform(out, ...)  a Terraform state file (and optionally the layer's folder)

Both write, in `out`: iamlayer.yaml, IMPORT.md, keys/ (the PGP public keys known) and outputs/
(the ciphertexts Terraform recorded). Nothing is written to AWS. An existing iamlayer.yaml is
never overwritten, nor a key file with other content. The spec written is loaded back with
`load_spec` before the import reports success: a spec that does not validate is an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamlayer.aws.session import ApiStats, env_region
from iamlayer.errors import IamlayerError, SpecError
from iamlayer.files import write_atomic
from iamlayer.importer.build import ImportOptions, ImportReport, build_spec
from iamlayer.importer.model import ImportFinding, ImportSource
from iamlayer.importer.writer import render_report, render_spec
from iamlayer.plan.limits import check_rendered_limits
from iamlayer.secrets.outbox import Outbox
from iamlayer.spec.load import DEFAULT_SPEC_FILE, load_spec
from iamlayer.spec.model import Spec
from iamlayer.spec.validate import DEFAULT_ACCESS_ROLE, DEFAULT_REGION

REPORT_FILE = "IMPORT.md"
DEFAULT_OPTIONS = ImportOptions()
Progress = Callable[[str], None]


@dataclass
class ImportResult:
    """What an import wrote, and what it found."""

    spec_path: Path
    report_path: Path
    spec: Spec
    report: ImportReport
    seconds: float
    api_calls: dict[str, Any] | None = None
    written: list[Path] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "spec": str(self.spec_path),
            "report": str(self.report_path),
            "seconds": round(self.seconds, 2),
            "api_calls": self.api_calls,
            "written": [str(p) for p in self.written],
            **self.report.as_json(),
        }


def import_aws(
    out: Path,
    *,
    accounts: Sequence[str] = (),
    profile: str | None = None,
    region: str | None = None,
    access_role: str = DEFAULT_ACCESS_ROLE,
    options: ImportOptions = DEFAULT_OPTIONS,
    keys_dir: Path | None = None,
    progress: Progress | None = None,
    command: str = "iamlayer import aws",
) -> ImportResult:
    """Import the organization (or `accounts`) read with the operator's credentials into `out`."""
    from iamlayer.importer.live import read_live

    started = time.monotonic()
    _refuse_existing(out)
    stats = ApiStats()
    source = read_live(
        accounts,
        profile=profile,
        region=region or env_region() or DEFAULT_REGION,
        access_role=access_role,
        keys_dir=keys_dir,
        people_account=options.people_account,
        stats=stats,
        progress=progress,
    )
    return _write(out, source, options, command=command, started=started)


def import_terraform(
    out: Path,
    *,
    states: Sequence[Path],
    layer: Path | None = None,
    region: str | None = None,
    access_role: str = DEFAULT_ACCESS_ROLE,
    options: ImportOptions = DEFAULT_OPTIONS,
    progress: Progress | None = None,
    command: str = "iamlayer import terraform",
) -> ImportResult:
    """Import the Terraform state file(s) `states` (and the layer folder `layer`) into `out`."""
    from iamlayer.importer.terraform import read_terraform

    started = time.monotonic()
    _refuse_existing(out)
    if progress:
        progress(f"reading {', '.join(map(str, states))}")
    source = read_terraform(
        list(states), layer=layer, region=region or env_region() or DEFAULT_REGION, access_role=access_role
    )
    return _write(out, source, options, command=command, started=started)


def _refuse_existing(out: Path) -> None:
    for name in (DEFAULT_SPEC_FILE, REPORT_FILE):
        if (out / name).exists():
            raise IamlayerError(
                f"{out / name} already exists; import never overwrites it: give another --out"
            )


def _write(
    out: Path, source: ImportSource, options: ImportOptions, *, command: str, started: float
) -> ImportResult:
    spec_path = (out / DEFAULT_SPEC_FILE).resolve()
    spec, report = build_spec(source, spec_path, options)
    written: list[Path] = []
    keys_dir = spec.root / "keys"
    used = {f for u, f in source.user_keys.items() if u in spec.users}
    files = source.key_files if source.origin == "terraform" else {f: source.key_files[f] for f in used}
    for name, content in sorted(files.items()):
        path = keys_dir / name
        if path.exists() and path.read_bytes() != content:
            raise IamlayerError(
                f"{path} exists with other content; import never overwrites a key: give another --out"
            )
    for name, content in sorted(files.items()):
        write_atomic(keys_dir / name, content)
        written.append(keys_dir / name)
    written += _carry_ciphertexts(source, spec, report)
    write_atomic(spec_path, render_spec(spec, report, command=command).encode("utf-8"))
    written.append(spec_path)
    api_calls = source.stats.as_json() if source.stats else None
    seconds = time.monotonic() - started
    report_path = spec.root / REPORT_FILE
    rel = [p.relative_to(spec.root).as_posix() for p in written]
    text = render_report(report, command=command, seconds=seconds, api_calls=api_calls, written=rel)
    write_atomic(report_path, text.encode("utf-8"))
    written.append(report_path)
    try:
        loaded = load_spec(spec_path)
        check_rendered_limits(loaded)
    except SpecError as exc:
        raise IamlayerError(
            f"the spec written to {spec_path} does not validate, which is a bug in the import; "
            f"please report it with the diagnostics:\n{exc}"
        ) from exc
    return ImportResult(spec_path, report_path, spec, report, seconds, api_calls, written)


def _carry_ciphertexts(source: ImportSource, spec: Spec, report: ImportReport) -> list[Path]:
    """Terraform's encrypted passwords and secrets, into the outbox as iamlayer's own files."""
    names = {a.id: n for n, a in spec.accounts.items()}
    outbox = Outbox(spec.outputs_dir or spec.root / "outputs")
    written: list[Path] = []
    for c in source.ciphertexts:
        account = names.get(c.account_id)
        user = spec.users.get(c.user)
        if account != spec.people_account or user is None:
            report.findings.append(
                ImportFinding(
                    "left_out",
                    c.source,
                    f"encrypted {c.kind.replace('_', ' ')} of {c.user}",
                    "its user is not in the spec",
                )
            )
            continue
        if user.keep_credentials:
            report.findings.append(
                ImportFinding(
                    "kept",
                    c.source,
                    f"encrypted {c.kind.replace('_', ' ')} of {c.user}",
                    "the user's key is not known, so the ciphertext stays in the state only",
                )
            )
            continue
        written.append(
            outbox.store_ciphertext(
                account,
                c.user,
                c.kind,
                c.message,
                fingerprint=c.fingerprint,
                access_key_id=c.access_key_id,
                created=c.created,
                origin=f"terraform {c.source}",
            )
        )
    return written
