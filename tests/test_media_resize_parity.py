"""smart_resize / image_tokens / video_tokens agree with the transformers GLM processors (expected values computed
by transformers itself, never copied numbers)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from glmv.errors import MediaError
from glmv.media import image_tokens, smart_resize, video_tokens

transformers = pytest.importorskip("transformers", reason="parity needs the 'local' extra (transformers)")
from transformers.models.glm4v import image_processing_glm4v as hf_image  # noqa: E402
from transformers.models.glm4v.image_processing_glm4v import Glm4vImageProcessor  # noqa: E402
from transformers.models.glm4v.video_processing_glm4v import Glm4vVideoProcessor  # noqa: E402


def _sizes() -> list[tuple[int, int]]:
    rng = random.Random(20250628)
    edge = [
        (1, 1),
        (5, 300),
        (300, 5),
        (1, 199),
        (1, 200),
        (1, 201),
        (2, 400),
        (3, 600),
        (27, 27),
        (28, 28),
        (29, 29),
        (14, 2800),
        (28, 5600),
        (28, 5601),
        (100, 20000),
        (99, 20000),
        (112, 112),
        (111, 113),
        (20000, 20000),
        (1, 40000),
        (40000, 1),
        (4096, 4096),
        (3424, 3424),
        (3425, 3425),
        (1080, 1920),
        (2160, 3840),
        (96, 128),
    ]
    random_sizes = []
    for _ in range(240):
        kind = rng.random()
        if kind < 0.4:
            size = (rng.randint(1, 4000), rng.randint(1, 4000))
        elif kind < 0.6:
            size = (rng.randint(1, 64), rng.randint(1, 64))
        elif kind < 0.8:
            short = rng.randint(1, 120)
            size = (short, int(short * rng.uniform(150, 260)))
        else:
            size = (rng.randint(2000, 30000), rng.randint(2000, 30000))
        random_sizes.append(size if rng.random() < 0.5 else size[::-1])
    return edge + random_sizes


SIZES = _sizes()


def _transformers_tokens(height: int, width: int, processor: Glm4vImageProcessor, size=None) -> int | None:
    kwargs = {"size": size} if size else None
    try:
        patches = processor.get_number_of_image_patches(height, width, kwargs)
    except ValueError:
        return None
    return patches // processor.merge_size**2


def _ours(height: int, width: int, **kwargs) -> int | None:
    try:
        return image_tokens(width, height, **kwargs)
    except MediaError:
        return None


def test_image_tokens_match_transformers_for_many_sizes():
    processor = Glm4vImageProcessor()
    assert len(SIZES) >= 200
    errors = 0
    for height, width in SIZES:
        expected = _transformers_tokens(height, width, processor)
        assert _ours(height, width) == expected, (height, width)
        errors += expected is None
    assert errors >= 5  # the table really reaches the aspect-ratio error


def test_smart_resize_matches_transformers_function_for_image_and_video_budgets():
    for num_frames, max_pixels in (
        (2, 28 * 28 * 15000),
        (2, 47_040_000),
        (16, 47_040_000),
        (640, 47_040_000),
    ):
        for height, width in SIZES[:120]:
            try:
                expected = hf_image.smart_resize(num_frames, height, width, max_pixels=max_pixels)
            except ValueError:
                expected = None
            try:
                ours = smart_resize(height, width, num_frames=num_frames, max_pixels=max_pixels)
            except MediaError:
                ours = None
            assert ours == expected, (num_frames, height, width)


def test_checkpoint_size_overrides_match():
    processor = Glm4vImageProcessor()
    size = {"shortest_edge": 12544, "longest_edge": 47_040_000}  # vLLM's GLM-4.1V example config
    for height, width in SIZES[::3]:
        expected = _transformers_tokens(height, width, processor, size)
        assert _ours(height, width, min_pixels=12544, max_pixels=47_040_000) == expected, (height, width)


@pytest.mark.parametrize("size", [(128, 96), (37, 23), (640, 480), (1000, 30), (3, 300)])
def test_tokens_equal_the_processor_grid_on_real_images(size):
    width, height = size
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8))
    grid = Glm4vImageProcessor()(images=[image], return_tensors="np")["image_grid_thw"][0]
    assert grid[0] == 1
    assert image_tokens(width, height) == int(grid[1] * grid[2]) // 4
    assert smart_resize(height, width) == (int(grid[1]) * 14, int(grid[2]) * 14)


def test_too_long_and_thin_images_raise_a_clear_error():
    with pytest.raises(
        MediaError, match=r"too long and thin for GLM-V \(300:1 after scaling; at most 200:1\)"
    ):
        image_tokens(300, 1)
    with pytest.raises(MediaError, match="no area"):
        image_tokens(0, 10)


@pytest.mark.parametrize("frames", [2, 3, 8, 64, 600, 640])
def test_video_tokens_match_the_video_processor(frames):
    processor = Glm4vVideoProcessor()
    for height, width in [(48, 64), (480, 640), (1080, 1920), (2160, 3840), (28, 28), (5, 300)]:
        expected = processor.get_num_of_video_patches(frames, height, width) // 4
        assert video_tokens(frames, width, height) == expected, (frames, height, width)


def test_one_frame_video_is_an_error_like_the_processor():
    with pytest.raises(ValueError, match="must be larger than temporal_factor"):
        Glm4vVideoProcessor().get_num_of_video_patches(1, 48, 64)
    with pytest.raises(MediaError, match="A video needs at least 2 frames, got 1"):
        video_tokens(1, 64, 48)
