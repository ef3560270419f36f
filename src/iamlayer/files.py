"""Every file iamlayer writes is written here: atomically and durably.

A reader never sees a half-written file, and a crash leaves either the old content or the new
one, never a mix or an empty file. `write_private_file` is for anything that holds ciphertext or
credentials (the outbox, ~/.aws/credentials, the MFA session cache, saved plans): mode 0600 in
folders created 0700. `write_atomic` is the same for ordinary files (the spec, reports).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def fsync_dir(path: Path) -> None:
    """Flush a directory entry change (create, rename, unlink) in `path` to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_dir(path: Path) -> None:
    """Create `path` and any missing parents with mode 0700; existing folders are left as they are."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another thread or process made it meanwhile
            d.mkdir(mode=PRIVATE_DIR_MODE)
            # mkdir's mode is filtered by the umask; set it explicitly.
            os.chmod(d, PRIVATE_DIR_MODE)
            fsync_dir(d.parent)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` atomically with `mode`, durable once this returns.

    Writes a temporary file in the same folder (so the rename cannot cross filesystems), gives it
    `mode` before it has its name (a secret is never readable by others, even briefly), fsyncs it,
    renames it over `path`, then fsyncs the folder so the rename itself survives a crash. If
    `path` is a symlink (dotfile managers link ~/.aws/config into a repository), its target is
    replaced and the link kept. Missing parent folders are created (0700 for private files).
    """
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if mode & 0o077:
        target.parent.mkdir(parents=True, exist_ok=True)
    else:
        make_private_dir(target.parent)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(target.parent)


def write_private_file(path: Path, data: bytes) -> None:
    """`write_atomic` with mode 0600, in folders created 0700: for ciphertext and credentials."""
    write_atomic(path, data, PRIVATE_FILE_MODE)


def rename_durably(src: Path, dst: Path) -> None:
    """Rename `src` to `dst` atomically (replacing `dst`) and fsync the folder."""
    os.replace(src, dst)
    fsync_dir(dst.parent)


def remove_durably(path: Path) -> None:
    """Delete `path` if it exists and fsync its folder; a missing file is not an error."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)
