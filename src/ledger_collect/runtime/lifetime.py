"""Worker processes end with the process that started them.

A worker whose parent was killed (SIGKILL: no chance to stop anyone) would otherwise live on as
an orphan: an import's worker waiting for ever for work its parent will never give, holding its
store connections; an API worker serving on a port nobody supervises any more.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends


def end_with_parent(parent: int, signum: int = signal.SIGKILL) -> None:
    """Have ``signum`` sent to this process when ``parent`` ends: by the kernel on Linux; by a
    thread that watches the parent elsewhere. Checked once more after arming, for a parent that
    ended before. Call it from the thread that will outlive the others (the main one)."""
    if not _kernel_signals(signum):
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os.kill(os.getpid(), signum)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)


def _kernel_signals(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
