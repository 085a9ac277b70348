"""Screen recording to MP4: frames grabbed at a fixed rate on a background thread, encoded with PyAV.

:class:`ScreenRecorder` grabs the screen or a region ``fps`` times a second (through a :data:`Grabber`), scales
each frame to fit ``max_width`` x ``max_height`` and encodes H.264 (MPEG-4 Part 2 where no H.264 encoder is
built in) until :meth:`ScreenRecorder.stop` or ``max_seconds``. Frames follow the clock: a grab that comes late
repeats the previous frame for the slots it missed, so the video lasts as long as the recording did and holds
``seconds x fps`` frames. The caps keep a recording within what the model's video budget reads anyway.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from glmv.desktop.capture import Grabber, Region, grab_screen
from glmv.errors import GlmvError, MediaError

__all__ = ["Recording", "ScreenRecorder", "fit_size"]


def fit_size(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled down (never up) to fit the caps, both even, at least 2."""
    scale = min(1.0, max_width / width, max_height / height)
    fitted = (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))
    return fitted


@dataclass(frozen=True)
class Recording:
    """A finished recording: the MP4 ``path``, its ``frames``, ``seconds``, ``size`` (width, height), and
    ``capped`` when it stopped at ``max_seconds``; ``error`` when grabbing failed midway (what was recorded
    until then is kept)."""

    path: Path
    frames: int
    seconds: float
    size: tuple[int, int]
    capped: bool = False
    error: str = ""


def _codec() -> str:
    import av

    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


class ScreenRecorder:
    """Records ``region`` (``None``: the whole screen) into ``path``; :meth:`start`, then :meth:`stop` (or the
    cap) gives the :class:`Recording`."""

    def __init__(
        self,
        path: str | Path,
        region: Region | None = None,
        *,
        fps: int = 5,
        max_seconds: float = 60,
        max_width: int = 1280,
        max_height: int = 720,
        grab: Grabber = grab_screen,
    ) -> None:
        if fps < 1 or max_seconds <= 0:
            raise MediaError(
                f"A recording needs fps ≥ 1 and a positive length cap, not {fps} fps, {max_seconds} s."
            )
        self.path = Path(path)
        self.region = region.check() if region is not None else None
        self.fps = fps
        self.max_seconds = max_seconds
        self.max_width = max_width
        self.max_height = max_height
        self._grab = grab
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._result: Recording | None = None
        self._started = 0.0
        self.frames = 0

    @property
    def elapsed(self) -> float:
        """Seconds since :meth:`start` (0 before)."""
        return time.monotonic() - self._started if self._started else 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Grab the first frame now (so a screen that cannot be read fails here, as a MediaError) and record on a
        background thread."""
        first = self._grab(self.region)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, args=(first,), name="glmv-recorder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> Recording:
        """Stop (if still running) and return the finished recording."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._result is None:
            raise MediaError(f"The recording {self.path} did not finish; the file may be incomplete.")
        return self._result

    def wait(self, timeout: float | None = None) -> Recording | None:
        """The recording once it ended by itself (the cap), else None after ``timeout``."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._result

    def _run(self, first: Image.Image) -> None:
        import av

        width, height = fit_size(*first.size, self.max_width, self.max_height)
        container = av.open(str(self.path), "w")
        stream = container.add_stream(_codec(), rate=self.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if stream.codec_context.name == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "26"}
        limit = round(self.max_seconds * self.fps)
        error = ""
        frame = av.VideoFrame.from_image(first).reformat(width, height, "yuv420p")
        try:
            while True:
                due = int((time.monotonic() - self._started) * self.fps) + 1
                while self.frames < min(due, limit):  # late: repeat the last frame for the missed slots
                    frame.pts = self.frames
                    container.mux(stream.encode(frame))
                    self.frames += 1
                if self.frames >= limit or self._stop.is_set():
                    break
                next_slot = self._started + self.frames / self.fps
                if self._stop.wait(max(0.0, next_slot - time.monotonic())):
                    break
                try:
                    image = self._grab(self.region)
                except GlmvError as exc:
                    error = str(exc)
                    break
                frame = av.VideoFrame.from_image(image).reformat(width, height, "yuv420p")
            container.mux(stream.encode(None))
        finally:
            container.close()
        self._result = Recording(
            self.path, self.frames, self.frames / self.fps, (width, height), self.frames >= limit, error
        )
