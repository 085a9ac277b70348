"""What a model that is not yet trained writes never reaches the user as special tokens.

A random-weight checkpoint (or a taught one off its taught prompts) writes noise holding special tokens a reply
has no use for: ``<|begin_of_image|>`` and the other media tokens, box markers without a pair, end-of-turn tokens.
The raw text keeps them; content, what a user reads, must not (reasoning keeps box markers, nothing else).
"""

from __future__ import annotations

import pytest

from glmv.engine import ChatRequest, chat, open_engine
from glmv.families import MEDIA_TOKENS

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

_MEANINGLESS = (*MEDIA_TOKENS, "<|user|>", "<|endoftext|>", "[gMASK]", "<sop>")
_SPECIAL = (*_MEANINGLESS, "<|begin_of_box|>", "<|end_of_box|>")


def test_sampled_noise_leaves_no_special_tokens_in_reasoning_or_content(tiny_checkpoints):
    engine = open_engine(str(tiny_checkpoints("glm-4.6v-flash", taught=False)))
    with_media_tokens = 0
    for seed in range(12):
        request = ChatRequest(
            messages=[{"role": "user", "content": f"zq {seed}"}], max_tokens=64, temperature=1.5, seed=seed
        )
        reply = chat(engine, request)
        for token in _SPECIAL:
            assert token not in reply.content, (seed, reply.raw, reply.content)
        for token in _MEANINGLESS:
            assert token not in reply.reasoning, (seed, reply.raw, reply.reasoning)
        with_media_tokens += any(token in reply.raw for token in MEDIA_TOKENS)
        if with_media_tokens >= 2:
            break
    assert with_media_tokens, "no sampled reply held a media token, so the checks above tested nothing"
