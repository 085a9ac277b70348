"""Captures that land as attachments: full-screen, region and window screenshots and screen recordings.

:class:`Capturer` hides the assistant's own windows, waits :data:`HIDE_MS` for the screen to show what lies
beneath, grabs (through a :data:`~glmv.desktop.capture.Grabber`, mss by default), and attaches the result to the
session's next message. A region screenshot freezes the screen first and lets the user drag on a
:class:`~glmv.desktop.overlay.RegionOverlay`; a recording runs a :class:`~glmv.desktop.recording.ScreenRecorder`
with the settings' caps behind a :class:`~glmv.desktop.indicator.RecordingIndicator`. Every failure (no display,
no permission, a zero-size region, a recording that hit its cap) is a notice; the windows always come back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PIL import Image
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from glmv.desktop.capture import Grabber, Region, active_window_region, grab_screen, screen_region
from glmv.desktop.indicator import RecordingIndicator
from glmv.desktop.overlay import RegionOverlay
from glmv.desktop.recording import Recording, ScreenRecorder
from glmv.desktop.session import Session
from glmv.errors import GlmvError

__all__ = ["Capturer"]

HIDE_MS = 100


class Capturer(QObject):
    """Captures for ``session``; ``windows()`` lists the windows to hide while grabbing.

    Signals: ``overlay_shown(object)`` (the :class:`RegionOverlay`, for tests and benchmarks),
    ``captured(str)`` (the attached file), ``recording_changed(bool)``.
    """

    overlay_shown = Signal(object)
    captured = Signal(str)
    recording_changed = Signal(bool)

    def __init__(
        self,
        session: Session,
        windows: Callable[[], list[QWidget]],
        grab: Grabber = grab_screen,
        hide_ms: int = HIDE_MS,
    ) -> None:
        super().__init__()
        self.session = session
        self.windows = windows
        self.grab = grab
        self.hide_ms = hide_ms
        self.recorder: ScreenRecorder | None = None
        self.indicator: RecordingIndicator | None = None
        self.overlay: RegionOverlay | None = None
        self._hidden: list[QWidget] = []
        self._poll = QTimer(self)
        self._poll.setInterval(200)
        self._poll.timeout.connect(self._check_recording)
        if grab is grab_screen:
            import mss  # noqa: F401 - loaded now, so the first screenshot after a hotkey does not wait for it

    # ---- hiding our windows ----------------------------------------------------------------------------------

    def _hide_then(self, action: Callable[[], None]) -> None:
        self._hidden = [window for window in self.windows() if window.isVisible()]
        for window in self._hidden:
            window.hide()
        QTimer.singleShot(self.hide_ms if self._hidden else 0, action)

    def _restore(self) -> None:
        for window in self._hidden:
            window.show()
        self._hidden = []

    def _attach(self, image: Image.Image, stem: str) -> None:
        path = self.session.attach_image(image, stem)
        self._restore()
        if path is not None:
            self.captured.emit(str(path))

    def _grab(self, region: Region | None) -> Image.Image | None:
        try:
            return self.grab(region)
        except GlmvError as exc:
            self._restore()
            self.session.notice.emit(str(exc))
            return None

    # ---- screenshots -----------------------------------------------------------------------------------------

    def screenshot(self) -> None:
        """Attach a screenshot of every monitor."""

        def take() -> None:
            image = self._grab(None)
            if image is not None:
                self._attach(image, "screenshot")

        self._hide_then(take)

    def region_screenshot(self) -> None:
        """Freeze the screen and attach the rectangle the user drags (Esc cancels)."""
        self._select_region(lambda overlay, region: self._attach(overlay.crop(region), "region"))

    def window_screenshot(self) -> None:
        """Attach the window that has the focus once the assistant's windows are hidden (X11)."""

        def take() -> None:
            try:
                region = active_window_region()
            except GlmvError as exc:
                self._restore()
                self.session.notice.emit(str(exc))
                return
            image = self._grab(region)
            if image is not None:
                self._attach(image, "window")

        self._hide_then(take)

    def _select_region(self, chosen: Callable[[RegionOverlay, Region], None]) -> None:
        def show() -> None:
            image = self._grab(None)
            if image is None:
                return
            overlay = RegionOverlay(image)
            self.overlay = overlay
            overlay.selected.connect(lambda region: chosen(overlay, region))
            overlay.cancelled.connect(self._restore)
            overlay.empty.connect(self._empty)
            overlay.start()
            self.overlay_shown.emit(overlay)

        self._hide_then(show)

    def _empty(self, region: Region) -> None:
        self._restore()
        self.session.notice.emit(
            f"The selected region is {region.width}x{region.height} pixels: it has no area. Drag a rectangle "
            "(Esc cancels)."
        )

    # ---- recording -------------------------------------------------------------------------------------------

    @property
    def recording(self) -> bool:
        return self.recorder is not None

    def toggle_recording(self, region: bool = False) -> None:
        """Start recording the screen (or a region the user drags first), or stop the recording running."""
        if self.recorder is not None:
            self.stop_recording()
        elif region:
            self._select_region(lambda overlay, chosen: self.start_recording(self._on_screen(chosen)))
        else:
            self._hide_then(lambda: self.start_recording(None))

    def _on_screen(self, region: Region) -> Region:
        """``region`` of the overlay's screenshot in the coordinates of the virtual screen, whose top-left corner is
        not (0, 0) when a monitor lies left of or above the primary one."""
        if self.grab is not grab_screen:
            return region
        try:
            origin = screen_region()
        except GlmvError:
            return region
        return Region(origin.left + region.left, origin.top + region.top, region.width, region.height)

    def start_recording(self, region: Region | None) -> None:
        settings = self.session.settings
        path = self.session.history.captures_dir / f"recording-{time.strftime('%Y%m%d-%H%M%S')}.mp4"
        try:
            recorder = ScreenRecorder(
                path,
                region.even() if region is not None else None,
                fps=settings.record_fps,
                max_seconds=settings.record_max_seconds,
                max_width=settings.record_max_width,
                max_height=settings.record_max_height,
                grab=self.grab,
            )
            recorder.start()
        except GlmvError as exc:
            self._restore()
            self.session.notice.emit(str(exc))
            return
        self.recorder = recorder
        self.indicator = RecordingIndicator(lambda: recorder.elapsed, settings.record_max_seconds)
        self.indicator.stop_requested.connect(self.stop_recording)
        self.indicator.start()
        self._poll.start()
        self.recording_changed.emit(True)

    def _check_recording(self) -> None:
        if self.recorder is not None and not self.recorder.running:
            self.stop_recording()

    def stop_recording(self) -> Recording | None:
        """Stop, attach the video, bring the windows back; the finished :class:`Recording` is returned."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        self._poll.stop()
        if self.indicator is not None:
            self.indicator.finish()
            self.indicator = None
        self._restore()
        self.recording_changed.emit(False)
        try:
            recording = recorder.stop()
        except GlmvError as exc:
            self.session.notice.emit(str(exc))
            return None
        if recording.capped:
            self.session.notice.emit(
                f"The recording stopped at its cap of {self.session.settings.record_max_seconds} s "
                "(Settings → Recording to change it).",
            )
        if recording.error:
            self.session.notice.emit(f"The recording stopped early: {recording.error}")
        if recording.frames and self.session.attach([recording.path]):
            self.captured.emit(str(recording.path))
        return recording
