"""What the layer folder's git checkout says: its commit, and whether its history holds another one.

The record of the last apply (iamlayer.state.review) names the commit the spec was applied from; a
checkout whose history lacks it is behind. git is asked, never its files read: worktrees,
submodules and shallow clones all answer the same way.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

_TIMEOUT = 30


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None  # no git on this machine: the folder is treated as outside git


def head(root: Path) -> str | None:
    """The commit checked out in the git work tree holding `root`; None outside git (or before the
    first commit)."""
    done = _git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if done is None or done.returncode != 0:
        return None
    return done.stdout.strip() or None


def has_commit(root: Path, commit: str) -> bool | None:
    """Whether the history of `root`'s checkout (HEAD and its ancestors) holds `commit`; None when
    `root` is not in a git work tree. A commit this clone has never fetched is not in its history."""
    if head(root) is None:
        return None
    done = _git(root, "merge-base", "--is-ancestor", commit, "HEAD")
    return done is not None and done.returncode == 0
