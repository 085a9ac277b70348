"""Video: frame choice and timestamps equal the transformers GLM video processors; real mp4 files decoded by PyAV."""

from __future__ import annotations

import base64
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from glmv.errors import MediaError, MediaTooLargeError
from glmv.families import get_family
from glmv.media import MediaPolicy, load_video, sample_indices

FAMILIES = ["glm-4.1v-thinking", "glm-4.5v", "glm-4.6v", "glm-4.6v-flash"]
STEP = 8  # frame i is a flat grey of level i * STEP, so a decoded frame tells its own index


def encode_clip(
    path: Path, frames: int = 30, fps: int = 10, size: tuple[int, int] = (64, 48), codec: str = "libx264"
) -> Path:
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": "6"}
        for index in range(frames):
            array = np.full((height, width, 3), (index * STEP) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def frame_index(image: Image.Image) -> int:
    return round(float(np.asarray(image).mean()) / STEP)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return encode_clip(tmp_path_factory.mktemp("video") / "clip.mp4")


def _processor(sampler: str):
    pytest.importorskip("transformers", reason="parity needs the 'local' extra (transformers)")
    if sampler == "glm46v":
        from transformers.models.glm46v.video_processing_glm46v import Glm46VVideoProcessor

        return Glm46VVideoProcessor()
    from transformers.models.glm4v.video_processing_glm4v import Glm4vVideoProcessor

    return Glm4vVideoProcessor()


# (total frames, source fps, duration passed in metadata; None = let the sampler derive it)
SAMPLING_TABLE = [
    (1, 30, 1 / 30),
    (2, 30, 2 / 30),
    (4, 24, 4 / 24),
    (8, 4, 2.0),  # FORMATS §7.2 worked example
    (30, 10, 3.0),
    (45, 15, 3.0),
    (75, 25, None),
    (300, 30, 10.0),
    (299, 29.97, 299 / 29.97),
    (897, 29.97, 897 / 29.97),  # ~29.9 s
    (931, 30, 931 / 30),  # just over 30 s
    (1800, 60, 30.0),
    (3000, 10, 300.0),
    (3010, 10, 301.0),
    (7200, 24, 300.0),
    (7230, 24, 301.25),
    (8990, 29.97, 8990 / 29.97),
    (18000, 30, 600.0),
    (54000, 25, 2160.0),
    (72030, 30, 2401.0),
    (108000, 30, 3600.0),
    (500, 1, 500.0),  # fewer frames than the 600 instants
    (700, 1, 700.0),
    (100, 0.5, 200.0),
    (50, 2, None),
]


@pytest.mark.parametrize("sampler", ["glm4v", "glm46v"])
def test_sample_indices_match_transformers(sampler):
    from transformers.video_utils import VideoMetadata

    processor = _processor(sampler)
    for total, fps, duration in SAMPLING_TABLE:
        metadata = VideoMetadata(total_num_frames=total, fps=fps, duration=duration)
        expected = processor.sample_frames(metadata).tolist()
        ours = sample_indices(sampler, total, fps, duration)
        assert ours == expected, (sampler, total, fps, duration)
        assert len(ours) % 2 == 0
    assert sample_indices("glm-4.6v-flash", 8, 4, 2.0) == sample_indices("glm46v", 8, 4, 2.0)


def _transformers_load(path: Path, sampler: str):
    from transformers.video_utils import load_video as hf_load_video

    processor = _processor(sampler)
    return hf_load_video(str(path), backend="pyav", sample_indices_fn=processor.sample_frames)


@pytest.mark.parametrize("family", FAMILIES)
def test_real_mp4_matches_the_transformers_pyav_pipeline(clip, family):
    video = load_video(clip, family)
    frames, metadata = _transformers_load(clip, get_family(family).video_sampler)
    assert video.source_indices == [int(i) for i in metadata.frames_indices]
    assert video.timestamps == pytest.approx(metadata.timestamps)
    assert (video.fps, video.duration, video.total_frames) == (
        metadata.fps,
        metadata.duration,
        metadata.total_num_frames,
    )
    assert len(video.frames) == len(frames) and len(video.frames) % 2 == 0
    for ours, theirs in zip(video.frames, frames, strict=True):
        assert ours.mode == "RGB" and ours.size == (64, 48)
        assert np.array_equal(np.asarray(ours), theirs)
    assert [frame_index(f) for f in video.frames] == video.source_indices
    assert video.note is None


def test_timestamps_per_family(clip):
    old = load_video(clip, "glm-4.5v")
    assert old.source_indices == [0, 5, 10, 15, 20, 25]  # 2 fps of a 10 fps clip
    assert old.pair_timestamps == [0.0, 1.0, 2.0]
    assert [get_family("glm-4.5v").video_timestamp(t) for t in old.pair_timestamps] == ["0", "1", "2"]
    new = load_video(clip, "glm-4.6v")
    assert len(new.frames) == 18  # 3 s x 3 fps x 2
    assert new.timestamps == [i / 10 for i in new.source_indices]
    meta = new.metadata()
    assert meta["frames_indices"] == new.source_indices and meta["fps"] == 10.0 and meta["width"] == 64


def test_bytes_and_data_uri_give_the_same_frames(clip):
    from_path = load_video(clip, "glm-4.6v")
    data = clip.read_bytes()
    for source in (data, "data:video/mp4;base64," + base64.b64encode(data).decode(), clip.as_uri()):
        video = load_video(source, "glm-4.6v")
        assert video.source_indices == from_path.source_indices
        assert all(
            np.array_equal(np.asarray(a), np.asarray(b))
            for a, b in zip(video.frames, from_path.frames, strict=True)
        )


@pytest.mark.parametrize("family", ["glm-4.1v-thinking", "glm-4.6v"])
def test_one_frame_video_gives_the_frame_twice(tmp_path, family):
    path = encode_clip(tmp_path / "one.mp4", frames=1)
    video = load_video(path, family)
    assert video.source_indices == [0, 0]
    assert video.timestamps == [0.0, 0.0]
    assert len(video.frames) == 2 and frame_index(video.frames[1]) == 0


def test_frame_list_is_sampled_like_a_file():
    frames = [np.full((48, 64, 3), i * STEP, np.uint8) for i in range(30)]
    video = load_video(frames, "glm-4.1v-thinking", fps=10)
    assert video.source_indices == [0, 5, 10, 15, 20, 25]
    assert [frame_index(f) for f in video.frames] == video.source_indices
    pil_frames = [Image.fromarray(f) for f in frames]
    assert load_video(pil_frames, "glm-4.6v", fps=10).source_indices == sample_indices("glm46v", 30, 10, 3.0)
    assert load_video(np.stack(frames), "glm-4.5v", fps=10).source_indices == video.source_indices
    single = load_video([frames[3]], "glm-4.6v", fps=1)
    assert single.source_indices == [0, 0] and frame_index(single.frames[0]) == 3


@pytest.mark.parametrize(
    ("frames", "fps", "message"),
    [
        ([np.zeros((4, 4, 3), np.uint8)] * 4, None, "needs its frame rate: pass fps="),
        ([], 10, "The video has no frames: the list is empty"),
        ([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], 10, "must have the same size; got"),
        ([np.zeros((4, 4, 3), np.float32)] * 2, 10, "uint8 array of shape HxW, HxWx3 or HxWx4; got float32"),
        (["not a frame"] * 2, 10, "must be a PIL image or an image array, not str"),
    ],
)
def test_bad_frame_lists(frames, fps, message):
    with pytest.raises(MediaError, match=message):
        load_video(frames, "glm-4.6v", fps=fps)


def test_frame_and_pixel_caps(clip):
    video = load_video(clip, "glm-4.6v", MediaPolicy(max_video_frames=5))
    full = sample_indices("glm46v", 30, 10, 3.0)
    assert len(video.frames) == 4
    assert video.source_indices[0] == full[0] and video.source_indices[-1] == full[-1]
    assert [frame_index(f) for f in video.frames] == video.source_indices
    assert video.note == "kept 4 of 18 sampled frames (max_video_frames)"
    pytest.importorskip("transformers", reason="parity needs the 'local' extra (transformers)")
    from transformers.models.glm4v.video_processing_glm4v import smart_resize as hf_smart_resize

    cap = 6 * 56 * 42
    small = load_video(clip, "glm-4.1v-thinking", MediaPolicy(max_video_pixels=cap))
    height, width = hf_smart_resize(6, 48, 64, max_pixels=cap)
    assert small.frames[0].size == (width, height) == (56, 28)
    assert small.note == "frames scaled from 64x48 to 56x28 (max_video_pixels)"
    assert [frame_index(f) for f in small.frames] == small.source_indices


def test_byte_cap(clip):
    size = clip.stat().st_size
    with pytest.raises(
        MediaTooLargeError, match=f"video file '.*clip.mp4' is {size} bytes, over the limit of 100"
    ):
        load_video(clip, "glm-4.6v", MediaPolicy(max_video_bytes=100))


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(MediaError, match=r"sound.wav' has no video stream \(is it audio only\?\)"):
        load_video(path, "glm-4.6v")


def test_not_a_video_and_corrupt_video(clip, tmp_path):
    with pytest.raises(
        MediaError, match=r"Not a readable video: The video \(5 bytes\) is text starting with 'hello'"
    ):
        load_video(b"hello", "glm-4.6v")
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])  # the index (moov) is at the end
    with pytest.raises(MediaError, match=r"Not a readable video: '.*cut\.mp4' is an MP4/MOV video"):
        load_video(truncated, "glm-4.6v")
    with pytest.raises(MediaError, match="No such video file"):
        load_video(tmp_path / "missing.mp4", "glm-4.6v")


def test_webm_without_a_frame_count_in_its_header(tmp_path):
    path = encode_clip(tmp_path / "clip.webm", codec="libvpx-vp9")
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0  # Matroska/WebM headers carry no frame count
    video = load_video(path, "glm-4.5v")
    assert video.total_frames == 30
    assert video.source_indices == [0, 5, 10, 15, 20, 25]
    assert [frame_index(f) for f in video.frames] == video.source_indices
