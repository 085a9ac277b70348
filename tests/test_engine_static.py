"""The GPU path's static KV cache on CPU: the same greedy tokens as ``model.generate``, however requests meet.

An engine with ``kv_cache="static"`` decodes into tensors allocated once at load (``glmv.engine.local_static``)
instead of the growing left-padded cache. That it gives exactly ``model.generate``'s tokens for every family, with
text, images and a video, solo, in a batch, joining a running batch and from a cached prefix, is checked in
``test_engine_continuous`` (its engines come with both caches); here: the cache's layout, sizes and limits. The decode step runs at bucketed batch sizes, so ``compile=True``
compiles one graph per bucket. The compiled path is tested here with the ``"aot_eager"`` backend, not inductor:
inductor with the system gcc took 161 s for the four buckets of a tiny model on this 2-core machine (too slow
for CI; aot_eager took 29 s for three buckets, most of it tracing). So CI checks dynamo's capture and
AOTAutograd's functionalisation of the in-place cache writes (no graph break, one graph per bucket, the same
tokens), not inductor's generated code or CUDA graphs, which only a GPU run (``benchmarks/gpu.py``) exercises.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from glmv.engine import ChatRequest, LocalEngine
from glmv.errors import EngineError, RequestError
from glmv.messages import user_message
from glmv.testing import taught_conversations
from test_engine_continuous import clip, raw, reference, taught, video_request  # noqa: F401

pytestmark = pytest.mark.slow

# -- the cache's layout, sizes and limits (one family) ---------------------------------------------------------


@pytest.fixture(scope="module")
def flash(tiny_checkpoints):
    checkpoint = tiny_checkpoints("glm-4.6v-flash")
    with LocalEngine(checkpoint, max_batch_size=3, kv_cache="static", kv_cache_len=128) as engine:
        yield engine


def test_joins_shift_rows_right_and_leaves_shift_them_left(flash):
    import torch
    from transformers import DynamicCache

    from glmv.engine.local_static import StaticKV

    def cache(length: int, fill: float):
        one = DynamicCache()
        for number in range(2):
            one.update(torch.full((1, 2, length, 32), fill), torch.full((1, 2, length, 32), -fill), number)
        return one

    kv = StaticKV(flash.model, 3, 8)
    kv.join(cache(3, 1.0), 3)
    kv.join(cache(5, 2.0), 5, copies=2)  # longer: the first row moves right
    assert kv.mask.tolist() == [[0, 0, 1, 1, 1], [1] * 5, [1] * 5]
    keys = kv._cache.layers[1].keys
    assert bool((keys[0, :, 2:5] == 1.0).all()) and bool((keys[1:3, :, :5] == 2.0).all())
    length, layers = kv.row(0)
    assert length == 3 and layers[0][0].shape == (1, 2, 3, 32) and bool((layers[0][1] == -1.0).all())
    kv.keep([0])  # the long rows left: the short one moves to column 0
    assert (kv.rows, kv.length) == (1, 3) and kv.mask.tolist() == [[1, 1, 1]]
    assert bool((keys[0, :, :3] == 1.0).all())
    with pytest.raises(EngineError, match="holds 8 tokens per row"):
        kv.join(cache(9, 3.0), 9)
    with pytest.raises(EngineError, match="holds 3 rows"):
        kv.join(cache(2, 3.0), 2, copies=3)
    kv.keep([])
    assert (kv.rows, kv.length) == (0, 0)


def test_the_decode_step_runs_at_bucketed_batch_sizes_and_attention_windows(flash, monkeypatch):
    """Three rows run at the bucket of three (``max_rows``); as they finish, at two, then at one. The attention
    reads the smallest window of columns that holds every row, a larger one as the rows grow."""
    kv = flash._loop._kv
    assert kv.buckets == (1, 2, 3) and kv.windows == (128,)
    monkeypatch.setattr(kv, "windows", (32, 64, 128))
    shapes = []
    forward = kv._forward

    def recording(**inputs):
        shapes.append((len(inputs["input_ids"]), inputs["attention_mask"].shape[1]))
        return forward(**inputs)

    monkeypatch.setattr(kv, "_forward", recording)
    requests = [taught(flash, name) for name in ("long-reasoning", "image", "thinking-off")]
    replies = [raw(flash, g) for g in flash.start_batch(requests)]
    assert replies == [reference(flash, request) for request in requests]
    sizes, spans = [size for size, _ in shapes], [span for _, span in shapes]
    assert set(sizes) == {1, 2, 3} and sizes[0] == 3 and sizes[-1] == 1
    assert spans == sorted(spans) and len(set(spans)) >= 2


def test_the_load_line_says_what_the_kv_cache_reserves(tiny_checkpoints, capfd):
    checkpoint = tiny_checkpoints("glm-4.6v-flash")
    # 2 (keys, values) × 2 layers × 2 kv heads × head_dim 32 × 4 bytes (float32) = 1 KiB per token
    with LocalEngine(checkpoint, max_batch_size=4, kv_cache="static", kv_cache_len=128) as engine:
        static = capfd.readouterr().err
        assert engine.kv_cache_note in static
    assert (
        "KV cache: static, 4 rows × 128 tokens = 512.0 KiB reserved (1.0 KiB per token, 512 tokens)" in static
    )
    with LocalEngine(checkpoint, device="auto") as engine:  # no GPU here: auto is the CPU, and dynamic
        dynamic = capfd.readouterr().err
        assert engine.device == "cpu"
    assert "KV cache: dynamic, 1.0 KiB per token; the " in dynamic and " tokens." in dynamic


def test_a_request_longer_than_the_static_cache_is_refused_up_front(flash):
    with pytest.raises(RequestError, match="context is 128 tokens"):
        flash.chat(ChatRequest(messages=[user_message("word " * 160)]))
    assert flash.chat(taught(flash, "plain")).raw == reference(flash, taught(flash, "plain"))


def test_more_choices_than_the_static_cache_has_rows_fail_with_a_clear_error(flash):
    with pytest.raises(RequestError, match="n is 4, but the static KV cache holds 3 rows"):
        flash.chat(taught(flash, "plain", n=4))
    assert flash.chat(taught(flash, "plain")).raw == reference(flash, taught(flash, "plain"))


def test_options_that_do_not_fit_together_are_refused(tiny_checkpoints):
    from glmv.errors import ModelLoadError

    checkpoint = tiny_checkpoints("glm-4.6v-flash")
    with pytest.raises(ModelLoadError, match="needs the static KV cache"):
        LocalEngine(checkpoint, kv_cache="dynamic", compile=True)
    with pytest.raises(ModelLoadError, match="Unknown KV cache 'paged'"):
        LocalEngine(checkpoint, kv_cache="paged")


# -- the compiled decode step ----------------------------------------------------------------------------------


def test_the_compiled_step_gives_the_same_tokens_with_one_graph_per_bucket(tiny_checkpoints, clip):  # noqa: F811
    from torch._dynamo.utils import counters

    checkpoint = tiny_checkpoints("glm-4.6v-flash")
    with LocalEngine(checkpoint, max_batch_size=2, kv_cache_len=256, compile="aot_eager") as engine:
        requests = [taught(engine, "long-reasoning"), taught(engine, "image"), video_request(clip)]
        graphs = counters["stats"]["unique_graphs"]
        replies = [raw(engine, g) for g in engine.start_batch(requests)]  # buckets 2 and 1
        assert replies == [reference(engine, request) for request in requests]
        assert counters["stats"]["unique_graphs"] - graphs == 2
        conv = next(c for c in taught_conversations(engine.family) if c.name == "plain")
        again = ChatRequest(
            messages=list(conv.messages), max_tokens=64, temperature=0, repetition_penalty=1.0
        )
        assert engine.chat(again).raw == conv.reply
        assert counters["stats"]["unique_graphs"] - graphs == 2  # nothing new to compile
        assert not counters["graph_break"]


# -- the vision tower in chunks --------------------------------------------------------------------------------


def test_many_images_go_through_the_vision_tower_in_chunks(tiny_checkpoints, clip):  # noqa: F811
    """A chunk of one patch: every image (and every frame of the video) is its own tower call, and the replies
    are still generate's."""
    with LocalEngine(tiny_checkpoints("glm-4.6v-flash")) as engine:
        engine.vision_cache.chunk_patches = 1
        requests = [taught(engine, "two-images"), video_request(clip)]
        expected = [reference(engine, request) for request in requests]
        calls = []
        hook = engine.model.model.visual.register_forward_hook(lambda *_: calls.append(1))
        try:
            assert engine.chat(requests[0]).raw == expected[0]
            assert len(calls) == 2
            assert engine.chat(requests[1]).raw == expected[1]
        finally:
            hook.remove()
        frames = engine.vision_cache.encoded - 2
        assert frames > 1 and len(calls) == 2 + frames
