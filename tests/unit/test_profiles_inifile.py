"""INI editing: only iamlayer's marked sections change; every other byte is kept."""

from __future__ import annotations

import configparser
import stat
from pathlib import Path

from iamlayer.profiles.inifile import marker, merge, sync_file
from iamlayer.profiles.render import Section

HAND_WRITTEN = (
    "# my own notes; do not touch\n"
    "[default]\n"
    "region = eu-west-1\n"
    "\n"
    "; a comment about the next one\n"
    "[profile personal]\n"
    "region=us-west-2   \n"
    "output = text\n"
)


def sections(*names: str, region: str = "us-east-1") -> list[Section]:
    return [
        Section(f"profile {n}", (("role_arn", f"arn:aws:iam::1:role/{n}"), ("region", region))) for n in names
    ]


def test_first_write_appends_marked_sections_after_hand_written_ones() -> None:
    res = merge(HAND_WRITTEN, "acme", sections("acme-a", "acme-b"))
    assert res.text.startswith(HAND_WRITTEN)
    assert res.text[len(HAND_WRITTEN) :] == (
        "\n# managed by iamlayer (acme)\n[profile acme-a]\n"
        "role_arn = arn:aws:iam::1:role/acme-a\nregion = us-east-1\n\n"
        "# managed by iamlayer (acme)\n[profile acme-b]\n"
        "role_arn = arn:aws:iam::1:role/acme-b\nregion = us-east-1\n\n"
    )
    assert res.added == ("profile acme-a", "profile acme-b")
    parser = configparser.RawConfigParser()
    parser.read_string(res.text)  # still a valid INI file, readable by botocore's parser
    assert parser.get("profile acme-b", "region") == "us-east-1"


def test_rerun_is_byte_identical() -> None:
    once = merge(HAND_WRITTEN, "acme", sections("acme-a", "acme-b")).text
    again = merge(once, "acme", sections("acme-a", "acme-b"))
    assert again.text == once and not again.changed


def test_update_in_place_keeps_surrounding_bytes_and_comments() -> None:
    once = merge(HAND_WRITTEN, "acme", sections("acme-a", "acme-b")).text
    # A person adds a section and a comment after ours.
    edited = once + "# mine below\n[profile later]\nregion = sa-east-1\n"
    res = merge(edited, "acme", sections("acme-a", "acme-b", region="eu-central-1"))
    assert res.updated == ("profile acme-a", "profile acme-b")
    assert res.text.startswith(HAND_WRITTEN)
    assert res.text.endswith("\n# mine below\n[profile later]\nregion = sa-east-1\n")
    assert res.text.count("eu-central-1") == 2


def test_owned_sections_no_longer_rendered_are_removed_and_new_ones_join_the_others() -> None:
    once = merge(HAND_WRITTEN, "acme", sections("acme-a", "acme-b")).text + "[profile later]\nregion = x\n"
    res = merge(once, "acme", sections("acme-b", "acme-c"))
    assert res.removed == ("profile acme-a",) and res.added == ("profile acme-c",)
    assert "acme-a" not in res.text
    body = res.text[len(HAND_WRITTEN) :]
    assert body.index("[profile acme-b]") < body.index("[profile acme-c]") < body.index("[profile later]")
    assert res.text.startswith(HAND_WRITTEN) and res.text.endswith("[profile later]\nregion = x\n")


def test_other_projects_sections_are_not_ours() -> None:
    other = merge("", "beta", sections("beta-a")).text
    res = merge(other, "acme", sections("acme-a"))
    assert res.text.startswith(other)
    assert merge(res.text, "acme", []).text.rstrip("\n") == other.rstrip("\n")


def test_hand_written_section_with_a_rendered_name_is_taken_over() -> None:
    text = "[profile acme-a]\nrole_arn = old\n\n[profile keep]\nregion = x\n"
    res = merge(text, "acme", sections("acme-a"))
    assert res.adopted == ("profile acme-a",)
    assert res.text.startswith(marker("acme") + "\n[profile acme-a]\nrole_arn = arn:aws:iam::1:role/acme-a\n")
    assert res.text.endswith("[profile keep]\nregion = x\n")
    assert res.text.count("[profile acme-a]") == 1


def test_crlf_and_non_utf8_bytes_survive(tmp_path: Path) -> None:
    path = tmp_path / "config"
    original = b"[default]\r\nregion = eu-west-1\r\n# caf\xe9\r\n"
    path.write_bytes(original)
    sync_file(path, "acme", sections("acme-a"))
    data = path.read_bytes()
    assert data.startswith(original)
    assert b"\r\n[profile acme-a]\r\n" in data


def test_sync_file_mode_backup_and_no_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "acme" / "config"
    first = sync_file(path, "acme", sections("acme-a"))
    assert first.changed and first.backup is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

    path.write_bytes(HAND_WRITTEN.encode() + path.read_bytes())
    path.chmod(0o644)
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    same = sync_file(path, "acme", sections("acme-a"))
    assert not same.changed
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # tightened, not rewritten

    changed = sync_file(path, "acme", sections("acme-a", "acme-b"))
    assert changed.changed and changed.backup == tmp_path / "acme" / "config.bak"
    assert changed.backup.read_bytes() == before
    assert stat.S_IMODE(changed.backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(HAND_WRITTEN.encode())
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_extra_blank_lines_after_an_owned_section_are_the_persons() -> None:
    once = merge("", "acme", sections("acme-a")).text
    edited = once + "\n\n[profile mine]\nregion = x\n"
    res = merge(edited, "acme", sections("acme-a"))
    assert res.text == edited and not res.changed
