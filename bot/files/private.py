"""Files that hold families' data are their owner's alone: files 0600, folders 0700.

The database, its WAL, the spool and every export are made through these, so what
they hold is never readable by other users of the machine, whatever the umask.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PRIVATE_FILE", "PRIVATE_FOLDER", "create_private", "private_folder"]

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def private_folder(path: Path) -> Path:
    """Make `path` (and missing parents) if needed; a folder it makes is 0700."""
    path.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    return path


def create_private(path: Path, *, replace: bool = False) -> Path:
    """Create `path` empty and 0600. An existing file is kept as it is, unless `replace`,
    which removes it first (a temporary a crash left behind, say)."""
    if replace:
        path.unlink(missing_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        if replace:
            raise
    return path
