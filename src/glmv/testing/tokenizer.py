"""The tiny tokenizer of the test checkpoints: a small byte-level BPE plus every GLM special token.

The BPE part is trained on a fixed English corpus (the taught conversations, the chat templates' fixed text and a
few sentences), so prompts tokenise into a few hundred ids. The GLM special tokens are appended **after** the BPE
vocabulary, in the order of the real vocabulary of each generation, so their relative positions match the real
checkpoints (``</answer>`` is 19 places after ``<|endoftext|>`` in the GLM-4.1V vocabulary, ``<|image|>`` 34
places after it in the GLM-4.5 vocabulary). ``eos`` = ``pad`` = ``<|endoftext|>``, left padding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

__all__ = ["GLM4_SPECIALS", "GLM45_SPECIALS", "build_tokenizer", "special_tokens"]

_COMMON = (
    "<|endoftext|>",
    "[MASK]",
    "[gMASK]",
    "[sMASK]",
    "<sop>",
    "<eop>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|observation|>",
    "<|begin_of_image|>",
    "<|end_of_image|>",
    "<|begin_of_video|>",
    "<|end_of_video|>",
)

# GLM-4.1V (GLM-4-0414 vocabulary): <|image|> = 151343, <|video|> = 151344, </answer> = 151348 as in the real
# checkpoint; the places of the other tokens after <|video|> are not published, this order keeps </answer> right.
GLM4_SPECIALS: tuple[str, ...] = (
    *_COMMON,
    "<|image|>",
    "<|video|>",
    "<|begin_of_box|>",
    "<|end_of_box|>",
    "<answer>",
    "</answer>",
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<arg_key>",
    "</arg_key>",
    "<arg_value>",
    "</arg_value>",
    "/nothink",
    "<|code_prefix|>",
    "<|code_middle|>",
    "<|code_suffix|>",
)

# GLM-4.5V / GLM-4.6V (GLM-4.5 vocabulary), in real order; it has no <answer> tokens.
GLM45_SPECIALS: tuple[str, ...] = (
    *_COMMON,
    "<|begin_of_audio|>",
    "<|end_of_audio|>",
    "<|begin_of_transcription|>",
    "<|end_of_transcription|>",
    "<|code_prefix|>",
    "<|code_middle|>",
    "<|code_suffix|>",
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<arg_key>",
    "</arg_key>",
    "<arg_value>",
    "</arg_value>",
    "/nothink",
    "<|begin_of_box|>",
    "<|end_of_box|>",
    "<|image|>",
    "<|video|>",
)

# Extra text the BPE learns from besides the conversations and templates: common words so that prompts a test
# invents stay short too.
_CORPUS = """
The quick brown fox jumps over the lazy dog. Hello, world! What is in this picture? Describe the image.
one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen
eighteen nineteen twenty 0 1 2 3 4 5 6 7 8 9 10 100 1000 red green blue yellow black white colour color
Please answer the question. Think step by step. The answer is yes or no. You are a helpful assistant.
{"type": "function", "function": {"name": "get_weather", "description": "Get the weather", "parameters":
{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
"""


def special_tokens(answer_tags: bool) -> tuple[str, ...]:
    """The GLM special tokens of the vocabulary with (GLM-4.1V) or without (GLM-4.5) ``<answer>`` tags."""
    return GLM4_SPECIALS if answer_tags else GLM45_SPECIALS


def build_tokenizer(
    texts: list[str], answer_tags: bool, bpe_size: int = 1024, pad_to: int = 64
) -> tuple[PreTrainedTokenizerFast, int]:
    """A byte-level BPE trained on ``texts`` (+ a small fixed corpus) with the GLM specials appended.

    Returns the tokenizer and the embedding size: the vocabulary length rounded up to a multiple of ``pad_to``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = special_tokens(answer_tags)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=bpe_size,
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Specials are cut out of the training text so the BPE never merges across them.
    corpus = [_strip_specials(text, specials) for text in (*texts, _CORPUS)]
    bpe.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=131072,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(specials)})
    ids = tokenizer.convert_tokens_to_ids(list(specials))
    first = ids[0]
    if ids != list(range(first, first + len(specials))):  # pragma: no cover - a tokenizers behaviour change
        raise RuntimeError("GLM special tokens did not land in order after the BPE vocabulary")
    size = -(-len(tokenizer) // pad_to) * pad_to
    return tokenizer, size


def _strip_specials(text: str, specials: tuple[str, ...]) -> str:
    for token in specials:
        text = text.replace(token, "\n")
    return text
