"""Log-probabilities (``logprobs`` / ``top_logprobs``) and per-request timings, from the engine to the client.

The local engine's entries are checked against the model's own logits (``generate(output_logits=True)`` on the
same prompt), the server's OpenAI shape through the official ``openai`` SDK over real HTTP, and the remote
engine against that server.
"""

from __future__ import annotations

import math
import urllib.request

import openai
import pytest

from glmv.engine import ChatRequest, RemoteEngine, ScriptedEngine
from glmv.errors import RequestError
from glmv.server import ServerSettings
from glmv.server.background import BackgroundServer

FAMILY = "glm-4.6v-flash"
QUESTION = [{"role": "user", "content": "Name a colour and say why you like it."}]


@pytest.fixture(scope="module")
def engine(tiny_checkpoints):
    from glmv.engine.local import LocalEngine

    engine = LocalEngine(tiny_checkpoints(FAMILY, taught=False), device="cpu")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def server(engine):
    with BackgroundServer(engine, ServerSettings(model_name="tiny")) as running:
        yield running


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0, timeout=120)


def _request(**options) -> ChatRequest:
    options = {"max_tokens": 12, "temperature": 0, "repetition_penalty": 1.0, **options}
    return ChatRequest(messages=QUESTION, **options)


def _reference_logprobs(engine, request: ChatRequest) -> tuple[list[int], list[list[float]]]:
    """Greedy tokens and each step's log-softmax of the raw logits, from transformers' own ``generate``."""
    import torch

    prepared = engine._prepare(request)
    with torch.inference_mode():
        out = engine.model.generate(
            **prepared.inputs,
            max_new_tokens=request.max_tokens,
            do_sample=False,
            repetition_penalty=1.0,
            output_logits=True,
            return_dict_in_generate=True,
            eos_token_id=list(engine.stop_ids),
            pad_token_id=engine.pad_id,
        )
    prompt = prepared.inputs["input_ids"].shape[1]
    tokens = out.sequences[0, prompt:].tolist()
    steps = [torch.log_softmax(logits[0].float(), -1).tolist() for logits in out.logits]
    return tokens, steps


def test_each_token_has_the_log_probability_the_model_gives_it(engine):
    request = _request(logprobs=True, top_logprobs=3)
    reply = engine.chat(request)
    tokens, steps = _reference_logprobs(engine, request)
    assert len(reply.logprobs) == reply.usage.completion_tokens == len(tokens)
    for entry, token, scores in zip(reply.logprobs, tokens, steps, strict=True):
        assert entry.token == engine.tokenizer.decode([token])
        assert math.isclose(entry.logprob, scores[token], abs_tol=1e-4)
        best = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:3]
        assert [alt[1] for alt in entry.top] == pytest.approx([scores[i] for i in best], abs=1e-4)
        assert entry.top[0][0] == entry.token  # greedy picks the likeliest
    assert "".join(entry.token for entry in reply.logprobs) == reply.raw


def test_streamed_chunks_carry_each_token_once(engine):
    chunks = list(engine.generate(_request(logprobs=True, max_tokens=20)))
    streamed = [entry for chunk in chunks for entry in chunk.logprobs]
    reply = chunks[-1].reply
    assert streamed == reply.logprobs
    assert len(streamed) == reply.usage.completion_tokens
    assert all(entry.top == () for entry in streamed)  # top_logprobs left out: no alternatives


def test_a_request_without_logprobs_shares_the_batch_and_gets_none(engine):
    asked, plain = engine.start_batch([_request(logprobs=True, top_logprobs=1), _request()])
    asked_reply = next(c.reply for c in asked if c.reply)
    plain_reply = next(c.reply for c in plain if c.reply)
    assert len(asked_reply.logprobs) == asked_reply.usage.completion_tokens
    assert plain_reply.logprobs is None
    assert asked_reply.raw == plain_reply.raw  # same greedy text with and without logprobs


def test_bytes_are_exact_for_a_token_that_holds_part_of_a_character(engine):
    from glmv.engine.local_rows import TokenNames

    names = TokenNames(engine.tokenizer)
    ids = engine.tokenizer("颜色", add_special_tokens=False)["input_ids"]
    spelled = [names.name(token) for token in ids]
    assert bytes(b for _, raw in spelled for b in raw).decode("utf-8") == "颜色"
    assert any("\ufffd" in text for text, _ in spelled)  # the tiny vocabulary splits these characters


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"logprobs": True, "top_logprobs": 21}, "between 0 and 20"),
        ({"top_logprobs": 2}, "needs logprobs=True"),
    ],
    ids=["top-past-20", "top-without-logprobs"],
)
def test_bad_logprob_settings_are_refused(options, fragment):
    with pytest.raises(RequestError, match=fragment):
        _request(**options)


def test_the_local_engine_reports_its_timings_in_the_usage(engine):
    timings = engine.chat(_request()).usage.timings
    assert set(timings.to_dict()) == {"queue_s", "prefill_s", "first_token_s", "decode_tokens_per_s"}
    assert 0 <= timings.queue_s <= timings.first_token_s
    assert timings.decode_tokens_per_s > 0


def test_the_server_answers_logprobs_in_the_openai_shape(client, engine):
    common = {"model": "tiny", "messages": QUESTION, "max_tokens": 12, "temperature": 0}
    extra = {"repetition_penalty": 1.0}
    full = client.chat.completions.create(logprobs=True, top_logprobs=2, extra_body=extra, **common)
    content = full.choices[0].logprobs.content
    assert len(content) == full.usage.completion_tokens
    assert all(
        len(entry.top_logprobs) == 2 and entry.top_logprobs[0].token == entry.token for entry in content
    )
    assert all(bytes(entry.bytes).decode("utf-8", "replace") for entry in content)

    stream = client.chat.completions.create(
        logprobs=True, top_logprobs=2, stream=True, extra_body=extra, **common
    )
    streamed = [
        entry
        for chunk in stream
        if chunk.choices and chunk.choices[0].logprobs
        for entry in chunk.choices[0].logprobs.content
    ]
    assert [(e.token, round(e.logprob, 4)) for e in streamed] == [
        (e.token, round(e.logprob, 4)) for e in content
    ]

    plain = client.chat.completions.create(extra_body=extra, **common)
    assert plain.choices[0].logprobs is None


def test_the_remote_engine_passes_logprobs_through(server):
    remote = RemoteEngine(server.base_url, model="tiny")
    try:
        reply = remote.chat(_request(logprobs=True, top_logprobs=1))
        streamed = [
            e for chunk in remote.generate(_request(logprobs=True, top_logprobs=1)) for e in chunk.logprobs
        ]
    finally:
        remote.close()
    assert len(reply.logprobs) == reply.usage.completion_tokens
    assert [(e.token, e.bytes) for e in streamed] == [(e.token, e.bytes) for e in reply.logprobs]
    assert all(len(e.top) == 1 for e in reply.logprobs)


def test_server_metrics_show_the_engine_timings(client, server):
    client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=4)
    with urllib.request.urlopen(f"{server.base_url.removesuffix('/v1')}/metrics", timeout=10) as response:
        text = response.read().decode()
    for name in ("queue_seconds", "prefill_seconds", "first_token_seconds", "decode_tokens_per_second"):
        count = next(line for line in text.splitlines() if line.startswith(f"glmv_engine_{name}_count"))
        assert float(count.split()[-1]) >= 1


def test_the_scripted_engine_is_certain_of_what_it_replays():
    engine = ScriptedEngine()
    engine.enqueue("<think>Blue.</think>It is blue.")
    reply = engine.chat(ChatRequest(messages=QUESTION, logprobs=True, top_logprobs=5))
    assert "".join(entry.token for entry in reply.logprobs) == "<think>Blue.</think>It is blue."
    assert {entry.logprob for entry in reply.logprobs} == {0.0}
    assert all(len(entry.top) == 1 for entry in reply.logprobs)
