"""The thinking-budget logits processor, driven step by step like ``generate`` drives it.

A scripted "model" proposes the next token of a planned continuation (as the top logit among random ones); the
processor may override it. Token ids come from the real GLM tokenizers of the tiny checkpoints, so the cases run
on the GLM-4.1V vocabulary (``</think>`` then ``<answer>`` forced) and the GLM-4.5 vocabulary (``</think>``).
End-to-end budgets on taught checkpoints live in ``test_engine_local.py``.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from glmv.engine.budget import ThinkingBudgetProcessor, ThinkingTokens  # noqa: E402
from glmv.families import get_family  # noqa: E402
from glmv.testing.tokenizer import build_tokenizer  # noqa: E402

FILLER = "one two three four five six seven eight nine ten eleven twelve"


@pytest.fixture(scope="module", params=["glm-4.1v-thinking", "glm-4.6v-flash"])
def setup(request):
    family = get_family(request.param)
    tokenizer, vocab = build_tokenizer([FILLER], answer_tags=family.answer_tags)
    return family, tokenizer, vocab


def ids(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False)


def run(processor, tokenizer, vocab, prompt: str, plan: str, *, temperature_noise: float = 3.0) -> str:
    """Generate greedily with a model that wants to write ``plan`` (then ``<|user|>`` forever)."""
    generator = torch.Generator().manual_seed(0)
    sequence = ids(tokenizer, prompt)
    planned = ids(tokenizer, plan)
    stop = tokenizer.convert_tokens_to_ids("<|user|>")
    out: list[int] = []
    for step in range(len(planned) + 8):
        scores = torch.randn(1, vocab, generator=generator) * temperature_noise
        wanted = planned[step] if step < len(planned) else stop
        scores[0, wanted] = 100.0
        scores = processor(torch.tensor([sequence + out]), scores)
        token = int(scores.argmax())
        out.append(token)
        if token == stop:
            break
    return tokenizer.decode(out, skip_special_tokens=False)


def processor_for(family, tokenizer, budgets):
    return ThinkingBudgetProcessor.for_tokenizer(tokenizer, family, budgets)


def count_tokens(tokenizer, text: str) -> int:
    return len(ids(tokenizer, text))


def test_arms_on_a_generated_think_and_forces_the_family_end(setup):
    family, tokenizer, vocab = setup
    processor = processor_for(family, tokenizer, [5])
    text = run(
        processor,
        tokenizer,
        vocab,
        "[gMASK]<sop><|user|>\nCount.<|assistant|>\n",
        f"<think>{FILLER}</think>ok",
    )
    reasoning, _, after = text.partition("</think>")
    assert reasoning.startswith("<think>")
    assert count_tokens(tokenizer, reasoning.removeprefix("<think>")) == 5
    end = "".join(family.thinking_end[1:])
    assert after.startswith(end)  # "<answer>" for GLM-4.1V, nothing more for GLM-4.6V
    assert "<|user|>" in after  # after the forced end the model writes freely again


@pytest.mark.parametrize("budget", [0, 1, 3])
def test_budget_counts_prompt_tokens_after_a_pre_opened_think(setup, budget):
    family, tokenizer, vocab = setup
    processor = processor_for(family, tokenizer, [budget])
    prompt = (
        "[gMASK]<sop><|user|>\nCount.<|assistant|>\n<think>one"  # one reasoning token already in the prompt
    )
    text = run(processor, tokenizer, vocab, prompt, " two three four five</think>ok")
    reasoning = text.partition("</think>")[0]
    assert count_tokens(tokenizer, "one" + reasoning) == max(budget, 1)


def test_a_closed_pair_in_history_does_not_disable_the_budget(setup):
    family, tokenizer, vocab = setup
    processor = processor_for(family, tokenizer, [4])
    prompt = "[gMASK]<sop><|user|>\nHi<|assistant|>\n<think></think>\nHello.<|user|>\nCount.<|assistant|>\n"
    text = run(processor, tokenizer, vocab, prompt, f"<think>{FILLER}</think>done")
    assert count_tokens(tokenizer, text.partition("</think>")[0].removeprefix("<think>")) == 4


def test_rows_whose_prompt_pre_closes_thinking_are_left_alone(setup):
    family, tokenizer, vocab = setup
    endings = ["<think></think>\n", "<think></think>"]  # the 4.5V / 4.6V thinking-off template, a bare pair
    if family.answer_tags:
        endings.append("<think></think><answer>")  # GLM-4.1V "thinking off": empty block, open answer
    plan = f"<think>{FILLER}</think>x"
    for ending in endings:
        processor = processor_for(family, tokenizer, [2])
        text = run(processor, tokenizer, vocab, "[gMASK]<sop><|user|>\nQ<|assistant|>\n" + ending, plan)
        assert text.startswith(plan), ending


def test_reasoning_the_model_closes_itself_is_not_touched(setup):
    family, tokenizer, vocab = setup
    processor = processor_for(family, tokenizer, [50])
    plan = "<think>one two</think>answer"
    text = run(processor, tokenizer, vocab, "[gMASK]<sop><|user|>\nQ<|assistant|>\n", plan)
    assert text.startswith(plan)


def test_each_row_keeps_its_own_budget(setup):
    family, tokenizer, vocab = setup
    processor = processor_for(family, tokenizer, [2, None, 6])
    prompt = ids(tokenizer, "[gMASK]<sop><|user|>\nQ<|assistant|>\n")
    planned = ids(tokenizer, f"<think>{FILLER}</think>")
    rows: list[list[int]] = [[], [], []]
    for step in range(len(planned)):
        scores = torch.zeros(3, vocab)
        scores[:, planned[step]] = 10.0
        scores = processor(torch.tensor([prompt + row for row in rows]), scores)
        for row, token in zip(rows, scores.argmax(dim=-1).tolist(), strict=True):
            row.append(token)
    think_end = tokenizer.convert_tokens_to_ids("</think>")
    assert rows[0].index(think_end) == 1 + 2
    assert rows[1] == planned
    assert rows[2].index(think_end) == 1 + 6


def test_forcing_leaves_one_finite_logit_so_any_sampler_picks_it(setup):
    family, tokenizer, vocab = setup
    processor = processor_for(family, tokenizer, [0])
    prompt = torch.tensor([ids(tokenizer, "<|assistant|>\n<think>")])
    scores = processor(prompt, torch.randn(1, vocab) * 50)
    finite = torch.isfinite(scores[0]).nonzero().flatten().tolist()
    assert finite == [tokenizer.convert_tokens_to_ids("</think>")]
    probabilities = torch.softmax(scores / 5.0, dim=-1)  # a high temperature changes nothing
    assert probabilities[0, finite[0]] == 1.0


def test_ids_come_from_the_tokenizer(setup):
    family, tokenizer, _ = setup
    tokens = ThinkingTokens.for_tokenizer(tokenizer, family)
    assert tokens.think == tokenizer.convert_tokens_to_ids("<think>")
    assert tokens.forced == tuple(tokenizer.convert_tokens_to_ids(t) for t in family.thinking_end)


def test_reasoning_cannot_open_again_once_the_budget_closed_it(setup):
    family, tokenizer, vocab = setup
    processor = processor_for(family, tokenizer, [2])
    text = run(processor, tokenizer, vocab, "<|assistant|>\n", "<think>one two three" + "<think>again" * 6)
    assert text.count("<think>") == 1
    assert count_tokens(tokenizer, text.partition("</think>")[0].removeprefix("<think>")) == 2
