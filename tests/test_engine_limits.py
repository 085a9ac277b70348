"""The local engine refuses what would exhaust it: prompts past the context, max_tokens past what is left,
and stop strings past their limits — each a RequestError naming the field and the numbers."""

from __future__ import annotations

import pytest

from glmv.engine import ChatRequest, open_engine
from glmv.errors import RequestError
from glmv.messages import user_message

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(tiny_checkpoints):
    with open_engine(str(tiny_checkpoints("glm-4.6v", taught=False)), max_model_len=64) as engine:
        yield engine


def test_the_context_is_the_smallest_limit(engine):
    assert engine.max_model_len == 64


@pytest.mark.parametrize(
    ("text", "max_tokens", "field", "message"),
    [
        ("hi " * 100, None, "messages", r"The prompt takes 30\d tokens .* context is 64 tokens"),
        ("x" * 200_000, None, "messages", r"The prompt takes more than 64 tokens"),
        ("hello " * 400, None, "messages", r"The prompt takes more than 64 tokens"),  # its head is enough
        (
            "hi",
            60,
            "max_tokens",
            r"max_tokens is 60, but the prompt takes \d+ of the 64 tokens .* at most \d+",
        ),
    ],
    ids=[
        "prompt-past-context",
        "huge-prompt-refused-before-tokenising",
        "long-prompt-refused-from-its-head",
        "max-tokens-past-what-is-left",
    ],
)
def test_refused_with_the_numbers(engine, text, max_tokens, field, message):
    with pytest.raises(RequestError, match=message) as caught:
        engine.chat(ChatRequest(messages=[user_message(text)], max_tokens=max_tokens))
    assert caught.value.field == field
    reply = engine.chat(ChatRequest(messages=[user_message("hi")], max_tokens=4))  # the engine goes on
    assert reply.usage.completion_tokens == 4


def test_the_default_max_tokens_is_clamped_to_the_context(engine):
    reply = engine.chat(ChatRequest(messages=[user_message("hi")], temperature=0.0))
    assert reply.finish_reason == "length"  # the random model runs on until the context is full
    assert reply.usage.prompt_tokens + reply.usage.completion_tokens == 64


def test_cuda_without_a_gpu_is_one_clear_error(tiny_checkpoints):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: asking for CUDA is no mistake here")
    from glmv.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="torch finds no CUDA GPU .* use --device cpu"):
        open_engine(str(tiny_checkpoints("glm-4.6v", taught=False)), device="cuda")
