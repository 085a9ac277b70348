"""A private X display: :class:`Xvfb` starts the virtual framebuffer X server on a free display number and stops it.

The desktop executor uses it when there is no display to act on (or when asked for a private one), so a run never
touches the user's own screen unless told to; tests use it the same way.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from glmv.errors import MissingDependencyError

__all__ = ["Xvfb"]

_SOCKETS = Path("/tmp/.X11-unix")
_FIRST_DISPLAY = 90
_START_SECONDS = 10.0


class Xvfb:
    """``Xvfb :N -screen 0 WxHx24 -nolisten tcp`` on the first free N from 90; a context manager."""

    def __init__(self, width: int = 1280, height: int = 800) -> None:
        program = shutil.which("Xvfb")
        if program is None:
            raise MissingDependencyError("Xvfb (needed for a private display)", "apt-get install xvfb")
        self.width, self.height = width, height
        for number in range(_FIRST_DISPLAY, _FIRST_DISPLAY + 100):
            if (_SOCKETS / f"X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
                continue
            self.process = subprocess.Popen(
                [program, f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.display = f":{number}"
            deadline = time.monotonic() + _START_SECONDS
            while time.monotonic() < deadline and self.process.poll() is None:
                if (_SOCKETS / f"X{number}").exists():
                    time.sleep(0.1)  # another server may own that socket: ours then exits on the lock
                    if self.process.poll() is None:
                        return
                    break
                time.sleep(0.05)
            self.stop()
        raise MissingDependencyError("a working Xvfb (it did not start)", "apt-get install --reinstall xvfb")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Xvfb:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
