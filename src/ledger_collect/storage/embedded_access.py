"""What the account PostgreSQL runs as may do with folders and files, from their mode bits.

As root, the embedded server runs as an unprivileged user (``embedded.PG_USER``). Before it
starts, ``embedded`` checks that this user can reach the data folder and read the binaries,
and names the first folder in the way instead of changing any folder it did not create. The
user is given as ``ids``: (uid, gid, every group id it belongs to).
"""

from __future__ import annotations

import os
from pathlib import Path


def can(path: Path | str, ids: tuple[int, int, set[int]], want: int) -> bool:
    """Do the mode bits let the user ``ids`` do ``want`` (4 read, 1 search/execute) on path?"""
    st = os.stat(path)
    shift = 6 if st.st_uid == ids[0] else 3 if st.st_gid in ids[2] else 0
    return (st.st_mode >> shift) & want == want


def blocker(path: Path, ids: tuple[int, int, set[int]]) -> Path | None:
    """The first folder from / down to ``path`` (inclusive) that the user cannot enter."""
    return next((p for p in [*reversed(path.parents), path] if not can(p, ids, 1)), None)


def readable_tree(roots: list[Path], ids: tuple[int, int, set[int]]) -> bool:
    """Can the user reach every file under ``roots``, read it, and run the ones in bin/?"""
    for root in roots:
        if blocker(root, ids):
            return False
        for folder, _, files in os.walk(root):
            need = 5 if folder.endswith("/bin") else 4
            if not can(folder, ids, 5) or not all(can(f"{folder}/{f}", ids, need) for f in files):
                return False
    return True
