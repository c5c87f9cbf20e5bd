"""Waiting for a server process the tests started: up when ``/health`` answers 200."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest


def wait_healthy(base: str, process: subprocess.Popen[str], seconds: float = 90) -> None:
    """Return once ``base``/health answers 200; fail with the process's output if it exits
    first, and kill it and fail if it is not up within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {process.communicate()}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{base} did not come up in {seconds:.0f} s")
        time.sleep(0.2)
