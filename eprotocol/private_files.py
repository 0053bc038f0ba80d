"""Files only their owner may read: login-token keys, signing keys and their passwords."""

from __future__ import annotations

import os
from pathlib import Path


def create_private_file(path: Path, data: bytes) -> bool:
    """Create ``path`` with mode 0600 holding ``data``; False (and no change) if it exists.

    The mode is set as the file is created, so the secret is never readable by
    others, not even for a moment; creating and existing-check are one step, so
    two processes racing to create it cannot both win.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return True
