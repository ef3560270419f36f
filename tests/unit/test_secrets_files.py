"""write_private_file: atomic replacement, mode 0600, folders 0700, symlinks followed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from iamlayer.files import write_private_file


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_creates_file_0600_and_missing_folders_0700(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a common, permissive umask must not widen the modes
    try:
        target = tmp_path / "a" / "b" / "credentials"
        write_private_file(target, b"[default]\n")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"[default]\n"
    assert mode(target) == 0o600
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700
    assert sorted(p.name for p in target.parent.iterdir()) == ["credentials"]  # no temp file left


def test_replacing_tightens_a_loose_file_and_keeps_the_folder_clean(tmp_path: Path) -> None:
    target = tmp_path / "config"
    target.write_bytes(b"old")
    target.chmod(0o644)
    write_private_file(target, b"new")
    assert (target.read_bytes(), mode(target)) == (b"new", 0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["config"]


def test_a_failed_write_leaves_the_old_content_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "credentials"
    write_private_file(target, b"old")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_private_file(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["credentials"]


def test_a_symlink_is_followed_and_kept(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "aws-config"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "config"
    link.symlink_to(real)
    write_private_file(link, b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"new" and mode(real) == 0o600
