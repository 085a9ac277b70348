"""Starting servers in tests and benchmarks: a free loopback port, and waiting until ``/health`` answers.

A server started in a subprocess takes a few seconds to load its model; :func:`wait_until_healthy` polls its
``/health`` on 127.0.0.1 until it answers 200, and fails at once (with what the process printed) when the process
exits first, or after ``timeout`` seconds.
"""

from __future__ import annotations

import socket
import subprocess
import time

from glmv.errors import GlmvError

__all__ = ["free_port", "wait_until_healthy"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(
    root: str, process: subprocess.Popen | None = None, timeout: float = 60.0, interval: float = 0.2
) -> None:
    """Return once ``GET {root}/health`` answers 200; raise :class:`~glmv.errors.GlmvError` if ``process`` exits
    first (its output in the message, when it was piped) or ``timeout`` seconds pass."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            output = process.stdout or process.stderr
            said = output.read()[-2000:] if output is not None else ""
            raise GlmvError(f"the server exited with status {process.returncode} before it served: {said}")
        try:
            if httpx.get(f"{root}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise GlmvError(f"the server at {root} did not answer /health within {timeout:g} s")
        time.sleep(interval)
