"""Video for GLM-V: frames sampled the way each family's processor samples them, with their timestamps.

:func:`sample_indices` is the frame choice of transformers' ``Glm4vVideoProcessor.sample_frames`` (GLM-4.1V and
GLM-4.5V: 2 fps up to 300 s, then 600 instants spread over the clip) and ``Glm46VVideoProcessor.sample_frames``
(GLM-4.6V: 3 / 1 / 0.5 fps by duration, at most 640 frames), written again without torch; a parity test holds it
to the originals. :func:`load_video` decodes a file or bytes with PyAV, or takes a list of frames with their fps,
and returns a :class:`Video` whose ``source_indices`` and ``timestamps`` are what the processor would compute.

Decoding walks the stream once, converts only the sampled frames and stops after the last one, so memory holds the
sampled frames alone. A one-frame clip (or one too short for the sampler to pick anything) gives its first frame
twice: the model needs frame pairs, and the sampler itself repeats the last frame to make the count even.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from glmv.errors import MediaError
from glmv.families import Family, get_family
from glmv.media.images import to_rgb
from glmv.media.policy import MediaPolicy
from glmv.media.resize import check_aspect_ratio, smart_resize
from glmv.media.sources import Source, describe_bytes, describe_error, open_source

__all__ = ["Video", "VideoInfo", "VideoSource", "load_video", "probe_video", "sample_indices"]

Sampler = Literal["glm4v", "glm46v"]
VideoSource = str | Path | bytes | bytearray | Source | Sequence[Any]


def _av_errors() -> tuple[type[BaseException], ...]:
    """What PyAV and the file layer raise for a container or stream that goes wrong mid-way."""
    import av

    return (av.error.FFmpegError, OSError, ValueError, EOFError, RuntimeError, IndexError)


_TEMPORAL_PATCH = 2
# Glm4vVideoProcessor class defaults.
_GLM4V_FPS = 2
_GLM4V_MAX_DURATION = 300
# Glm46VVideoProcessor.sample_frames constants.
_GLM46V_FPS_BY_DURATION = ((30, 3), (300, 1), (2400, 0.5))
_GLM46V_MAX_FRAMES = 640
_GLM46V_MAX_DURATION = 2400


@dataclass
class Video:
    """Sampled frames of one clip.

    ``source_indices[i]`` is the index in the source of ``frames[i]`` and ``timestamps[i] = source_indices[i] / fps``
    its time in seconds (what transformers computes from ``VideoMetadata``). ``fps``, ``duration`` and
    ``total_frames`` describe the source. ``note`` says when limits changed what the family sampler chose.
    """

    frames: list[Image.Image]
    timestamps: list[float]
    fps: float
    duration: float
    source_indices: list[int]
    total_frames: int = 0
    note: str | None = None
    sampler: Sampler = "glm4v"

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames."""
        return self.frames[0].size

    @property
    def pair_timestamps(self) -> list[float]:
        """The time of the first frame of each pair: the timestamps written into the prompt."""
        return self.timestamps[::_TEMPORAL_PATCH]

    def metadata(self) -> dict[str, Any]:
        """Keyword arguments for transformers ``VideoMetadata`` (pass frames with ``do_sample_frames=False``)."""
        width, height = self.size
        return {
            "total_num_frames": self.total_frames,
            "fps": self.fps,
            "duration": self.duration,
            "width": width,
            "height": height,
            "frames_indices": list(self.source_indices),
        }


def _dedupe_even(indices: Sequence[int]) -> list[int]:
    unique = list(dict.fromkeys(int(i) for i in indices))
    if len(unique) & 1:
        unique.append(unique[-1])
    return unique


def _glm4v_indices(total: int, fps: float, duration: float | None) -> list[int]:
    import numpy as np

    max_index = total - 1
    duration = duration or round(max_index / fps) + 1
    if duration <= _GLM4V_MAX_DURATION:
        n = max(math.floor(duration * _GLM4V_FPS), 1)
        return [min(max_index, math.ceil(i * fps / _GLM4V_FPS)) for i in range(n)]
    samples = int(_GLM4V_MAX_DURATION * _GLM4V_FPS)
    if samples >= total:
        return list(range(total))
    seconds = np.linspace(0, duration, samples, endpoint=True)
    return [min(max_index, math.ceil(t * fps)) for t in seconds]


def _glm46v_indices(total: int, fps: float, duration: float | None) -> list[int]:
    import numpy as np

    duration = duration or round((total - 1) / fps) + 1
    effective = min(duration, _GLM46V_MAX_DURATION)
    target_fps = next((rate for limit, rate in _GLM46V_FPS_BY_DURATION if effective <= limit), 0.5)
    wanted = min(int(effective * target_fps * _TEMPORAL_PATCH), _GLM46V_MAX_FRAMES)
    if total < wanted:
        return np.linspace(0, total - 1, wanted, dtype=int).tolist()
    indices: list[int] = []
    step = 1 / (_TEMPORAL_PATCH * target_fps)
    per_frame = 1 / fps
    max_second = int(duration)
    current = 0.0
    for index in range(total):
        if index * per_frame >= current:
            current += step
            indices.append(index)
            if current >= max_second:
                break
    if len(indices) < wanted:
        start, end = (indices[0], indices[-1]) if indices else (0, max(total - 1, 0))
        return np.linspace(start, end, wanted, dtype=int).tolist()
    if len(indices) > wanted:
        return np.linspace(0, total - 1, wanted, dtype=int).tolist()
    return indices


def sample_indices(
    sampler: Sampler | Family | str, total_frames: int, fps: float, duration: float | None = None
) -> list[int]:
    """The source frame indices a family's video processor samples, duplicates removed, made even.

    ``sampler`` is ``"glm4v"``, ``"glm46v"``, a :class:`~glmv.families.Family` or a family name. ``duration`` defaults
    as in transformers (``round((total_frames - 1) / fps) + 1``); the PyAV reader passes ``total_frames / fps``.
    May return ``[]`` for a clip too short for the GLM-4.6V sampler; :func:`load_video` then uses frame 0 twice.
    """
    if sampler not in ("glm4v", "glm46v"):
        sampler = get_family(sampler).video_sampler  # type: ignore[arg-type]
    if total_frames <= 0 or not fps or fps <= 0:
        raise MediaError(f"Cannot sample a video of {total_frames} frames at {fps} fps.")
    pick = _glm46v_indices if sampler == "glm46v" else _glm4v_indices
    return _dedupe_even(pick(total_frames, float(fps), duration))


def _thin(indices: list[int], limit: int) -> list[int]:
    """At most ``limit`` (made even) of ``indices``, evenly spread, first and last kept."""
    limit = max(2, limit - (limit & 1))
    if len(indices) <= limit:
        return indices
    last = len(indices) - 1
    return [indices[math.floor(k * last / (limit - 1) + 0.5)] for k in range(limit)]


def _fit_pixels(width: int, height: int, frames: int, budget: int) -> tuple[int, int]:
    """The frame size within ``budget`` pixels over all frames: the size the GLM processor would resize to."""
    if frames * width * height <= budget:
        return width, height
    new_height, new_width = smart_resize(height, width, num_frames=frames, max_pixels=budget)
    return new_width, new_height


@dataclass
class _Plan:
    indices: list[int]
    size: tuple[int, int]
    notes: list[str]


def _plan(
    sampler: Sampler, total: int, fps: float, duration: float, width: int, height: int, policy: MediaPolicy
) -> _Plan:
    notes: list[str] = []
    indices = sample_indices(sampler, total, fps, duration) or [0, 0]
    if len(indices) > policy.max_video_frames:
        thinned = _thin(indices, policy.max_video_frames)
        notes.append(f"kept {len(thinned)} of {len(indices)} sampled frames (max_video_frames)")
        indices = thinned
    size = _fit_pixels(width, height, len(indices), policy.max_video_pixels)
    if size != (width, height):
        notes.append(f"frames scaled from {width}x{height} to {size[0]}x{size[1]} (max_video_pixels)")
    return _Plan(indices, size, notes)


def _video(
    sampler: Sampler, plan: _Plan, decoded: dict[int, Image.Image], fps: float, duration: float, total: int
) -> Video:
    indices = [i for i in plan.indices if i in decoded]
    notes = list(plan.notes)
    if len(indices) < len(plan.indices):
        notes.append(f"the stream ended early: {len(plan.indices) - len(indices)} sampled frames missing")
        indices = _dedupe_even(indices)
    return Video(
        frames=[decoded[i] for i in indices],
        timestamps=[i / fps for i in indices],
        fps=fps,
        duration=duration,
        source_indices=indices,
        total_frames=total,
        note="; ".join(notes) or None,
        sampler=sampler,
    )


def _frame_to_image(frame: Any, size: tuple[int, int]) -> Image.Image:
    if isinstance(frame, Image.Image):
        image = to_rgb(frame)
    else:
        import numpy as np

        array = np.asarray(frame)
        if (
            array.dtype != np.uint8
            or array.ndim not in (2, 3)
            or (array.ndim == 3 and array.shape[2] not in (1, 3, 4))
        ):
            raise MediaError(
                f"A video frame must be a PIL image or a uint8 array of shape HxW, HxWx3 or HxWx4; got "
                f"{array.dtype} {array.shape}."
            )
        image = to_rgb(Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array))
    return image if image.size == size else image.resize(size, Image.Resampling.BICUBIC)


def _frame_size(frame: Any) -> tuple[int, int]:
    if isinstance(frame, Image.Image):
        return frame.size
    shape = getattr(frame, "shape", None)
    if shape is None or len(shape) < 2:
        raise MediaError(f"A video frame must be a PIL image or an image array, not {type(frame).__name__}.")
    return int(shape[1]), int(shape[0])


def _from_frames(frames: Sequence[Any], sampler: Sampler, fps: float | None, policy: MediaPolicy) -> Video:
    if not fps or fps <= 0:
        raise MediaError(
            "A video given as a list of frames needs its frame rate: pass fps= (frames per second of the list)."
        )
    if len(frames) == 0:
        raise MediaError("The video has no frames: the list is empty.")
    sizes = {_frame_size(frame) for frame in frames}
    if len(sizes) > 1:
        raise MediaError(
            f"All video frames must have the same size; got {', '.join(f'{w}x{h}' for w, h in sizes)}."
        )
    width, height = sizes.pop()
    total = len(frames)
    duration = total / fps
    plan = _plan(sampler, total, fps, duration, width, height, policy)
    decoded = {i: _frame_to_image(frames[i], plan.size) for i in dict.fromkeys(plan.indices)}
    return _video(sampler, plan, decoded, float(fps), duration, total)


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says, before any frame is decoded: frame rate, frame count and frame size."""

    fps: float
    total_frames: int
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.total_frames / self.fps

    def plan(self, family: Family | str | None, policy: MediaPolicy) -> tuple[int, tuple[int, int]]:
        """The number of frames :func:`load_video` keeps for ``family`` and the ``(width, height)`` they get; with
        no family, the larger of the two GLM samplers' choices."""
        samplers: list[Sampler] = (
            [get_family(family).video_sampler] if family is not None else ["glm4v", "glm46v"]
        )
        plans = [
            _plan(sampler, self.total_frames, self.fps, self.duration, self.width, self.height, policy)
            for sampler in samplers
        ]
        largest = max(plans, key=lambda plan: len(plan.indices) * plan.size[0] * plan.size[1])
        return len(largest.indices), largest.size


def _stream_info(container: Any, open_container: Any, label: str, fps: float | None) -> VideoInfo:
    if not container.streams.video:
        raise MediaError(f"{label} has no video stream (is it audio only?). Send a video file.")
    stream = container.streams.video[0]
    rate = fps or (float(stream.average_rate) if stream.average_rate else 0.0)
    if not rate and stream.guessed_rate:
        rate = float(stream.guessed_rate)
    if not rate:
        raise MediaError(f"Cannot tell the frame rate of {label}; pass fps= to load_video.")
    total = int(stream.frames or 0)
    if total <= 0:
        with open_container() as counting:
            video = counting.streams.video[0]
            total = sum(1 for packet in counting.demux(video) if packet.size)
    if total <= 0:
        raise MediaError(f"{label} has a video stream with no frames. Send a video that plays.")
    width, height = int(stream.width or 0), int(stream.height or 0)
    check_aspect_ratio(width, height, f"The video {label}")
    return VideoInfo(fps=rate, total_frames=total, width=width, height=height)


def _decode_frames(container: Any, plan: _Plan, label: str) -> dict[int, Image.Image]:
    stream = container.streams.video[0]
    wanted = set(plan.indices)
    last = max(wanted)
    decoded: dict[int, Image.Image] = {}
    stream.thread_type = "AUTO"
    try:
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                decoded[index] = frame.to_image(
                    width=plan.size[0], height=plan.size[1], interpolation="BICUBIC"
                )
            if index >= last:
                break
    except _av_errors() as exc:
        if not decoded:
            raise MediaError(
                f"Cannot decode the video {label}: {describe_error(exc)}. The file may be corrupt."
            ) from exc
    return decoded


def _from_container(
    open_container: Any, label: str, sampler: Sampler, fps: float | None, policy: MediaPolicy
) -> Video:
    with open_container() as container:
        info = _stream_info(container, open_container, label, fps)
        plan = _plan(sampler, info.total_frames, info.fps, info.duration, info.width, info.height, policy)
        decoded = _decode_frames(container, plan, label)
    if not decoded:
        raise MediaError(f"{label} has a video stream but no frame could be decoded.")
    return _video(sampler, plan, decoded, info.fps, info.duration, info.total_frames)


def _container_opener(source: VideoSource, policy: MediaPolicy) -> tuple[Any, str]:
    """A function opening the checked video as a PyAV container (a fresh handle each call), and its label."""
    import av

    opened = open_source(source, policy, policy.max_video_bytes, "video")  # type: ignore[arg-type]
    label = repr(opened.label) if opened.path else f"The video ({opened.label})"

    @contextlib.contextmanager
    def open_container() -> Iterator[Any]:
        handle = opened.open()
        try:
            try:
                container = av.open(handle, mode="r")
            except _av_errors() as exc:
                raise MediaError(
                    f"Not a readable video: {label} is {describe_bytes(opened.head(32))} ({describe_error(exc)}). "
                    "Send an MP4, WebM, MKV, MOV or AVI file."
                ) from exc
            with container:
                yield container
        finally:
            handle.close()

    return open_container, label


def probe_video(
    source: VideoSource, policy: MediaPolicy | None = None, fps: float | None = None
) -> VideoInfo:
    """Frame rate, frame count and size of a video file from its container, without decoding a frame.

    ``source`` is what :func:`load_video` takes, short of a list of frames (whose size the list itself tells).
    """
    policy = policy or MediaPolicy()
    open_container, label = _container_opener(source, policy)
    try:
        with open_container() as container:
            return _stream_info(container, open_container, label, fps)
    except _av_errors() as exc:
        raise MediaError(
            f"Cannot read the video {label}: {describe_error(exc)}. The file may be corrupt."
        ) from exc


def load_video(
    source: VideoSource,
    family: Family | str,
    policy: MediaPolicy | None = None,
    fps: float | None = None,
) -> Video:
    """Frames of a video sampled for ``family`` (a :class:`~glmv.families.Family` or a family name).

    ``source`` is a path, a ``file://`` / ``http(s)://`` / ``data:`` URL, the bytes of a video file, or a list
    (or array) of frames — PIL images or uint8 arrays — in which case ``fps`` (their frame rate) is required. For
    files, ``fps`` overrides the rate in the container. Frames are sampled as the family's transformers processor
    samples them; ``policy.max_video_frames`` thins them evenly and ``policy.max_video_pixels`` scales them down
    (both noted in ``Video.note``).
    """
    policy = policy or MediaPolicy()
    sampler: Sampler = get_family(family).video_sampler
    if not isinstance(source, (str, Path, bytes, bytearray, memoryview, Source)):
        return _from_frames(source, sampler, fps, policy)
    open_container, label = _container_opener(source, policy)
    try:
        return _from_container(open_container, label, sampler, fps, policy)
    except _av_errors() as exc:
        raise MediaError(
            f"Cannot decode the video {label}: {describe_error(exc)}. The file may be corrupt."
        ) from exc
