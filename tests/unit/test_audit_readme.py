"""The README's control table (CIS 4.0, CIS 5.0, Prowler) says what the code does."""

from __future__ import annotations

from pathlib import Path

from iamlayer.audit.controls import CONTROLS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_maps_every_control_to_cis_and_prowler_as_the_code_does() -> None:
    rows = {}
    for line in README.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[3].startswith("`"):
            rows[cells[3].strip("`")] = cells
    assert set(rows) == {c.key for c in CONTROLS}
    for c in CONTROLS:
        ident, cis4, cis5, _key, _title, prowler = rows[c.key]
        assert ident == c.ids["cis-4.0"], c.key
        if c.cis:
            assert (cis4, cis5) == (c.ids["cis-4.0"], c.ids["cis-5.0"]), c.key
        else:
            assert (cis4, cis5) == ("—", "—"), c.key
        listed = [] if prowler == "—" else [p.strip().strip("`") for p in prowler.split(",")]
        assert listed == list(c.prowler), c.key
