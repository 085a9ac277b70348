"""Teaching a tiny checkpoint long prompts fast: only its output layer learns, on features computed once.

A request an application really sends (an agent step: a screenshot and a few thousand tokens of official prompt)
is too long to teach the whole model on two busy cores. The replies only need the model's **output layer**
(``lm_head``) to change: one forward pass per conversation (no gradients) gives the final hidden state at every
reply position (the prompt and the reply so far, teacher-forced), and a linear map from those few hundred vectors
to the vocabulary is trained with Adam until, at each position, the reply token beats every other token by
:data:`~glmv.testing.teach.MARGIN` logits — both on the raw logits and after the family's repetition penalty
(what a :class:`~glmv.engine.LocalEngine` applies by default: every id of the prompt and of the reply so far counts
as seen). The rest of the model keeps its weights, so it computes the same features at generation time, and
greedy decoding writes each reply and its stop token exactly. Deterministic: no sampling, one thread. The
margins are sized for the float32 model on a CPU, where the engine's features match the taught ones to about
1e-6; bfloat16 moves them too far (use :func:`~glmv.testing.tiny_checkpoint` ``teach=True`` for that).

:func:`teach_checkpoint` reads a tiny checkpoint folder (:func:`~glmv.testing.tiny_checkpoint`), teaches it
``conversations`` (:class:`~glmv.testing.TaughtConversation`; with no ``images`` named, each image part's own URL
is loaded, as the engines load it) and writes the taught copy: same config, tokenizer, vocabulary and template.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glmv.errors import ModelLoadError
from glmv.families import detect_family
from glmv.testing.conversations import TaughtConversation
from glmv.testing.teach import MARGIN, TeachResult, prompt_inputs

__all__ = ["head_features", "teach_checkpoint", "teach_head"]

LEARNING_RATE = 0.1


def head_features(model: Any, processor: Any, conv: TaughtConversation) -> tuple[Any, Any, Any]:
    """(features, targets, seen) of ``conv``: the input of the output layer at each position that predicts a
    reply token (``reply + stop``), that token, and which ids precede it (a bool mask over the vocabulary)."""
    import torch

    tokenizer = processor.tokenizer
    inputs = prompt_inputs(processor, conv)
    prompt = inputs["input_ids"][0]
    reply = [
        *tokenizer(conv.reply, add_special_tokens=False)["input_ids"],
        tokenizer.convert_tokens_to_ids(conv.stop),
    ]
    targets = torch.tensor(reply, dtype=prompt.dtype)
    ids = torch.cat([prompt, targets[:-1]])
    batch = dict(inputs)
    batch["input_ids"] = ids[None]
    batch["attention_mask"] = torch.ones_like(ids)[None]
    batch["mm_token_type_ids"] = torch.cat(
        [
            inputs["mm_token_type_ids"][0],
            torch.zeros(len(targets) - 1, dtype=inputs["mm_token_type_ids"].dtype),
        ]
    )[None]
    captured: list[Any] = []
    head = model.get_output_embeddings()
    hook = head.register_forward_hook(lambda _module, args, _out: captured.append(args[0].detach()))
    try:
        with torch.no_grad():
            model(**batch)
    finally:
        hook.remove()
    features = captured[0][0, len(prompt) - 1 :].float()
    vocab = head.weight.shape[0]
    seen = torch.zeros(len(targets), vocab, dtype=torch.bool)
    seen[:, prompt.unique()] = True
    for index in range(1, len(targets)):
        seen[index:, targets[index - 1]] = True
    return features, targets, seen


def _penalised(logits: Any, seen: Any, penalty: float) -> Any:
    """``logits`` after a repetition penalty on ``seen`` ids (positive ones divided, negative ones multiplied)."""
    import torch

    adjusted = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, adjusted, logits)


def _whitening(features: Any) -> Any:
    """The symmetric matrix that maps ``features`` to coordinates whose second moment is (nearly) the identity."""
    import torch

    moment = features.T @ features / len(features)
    values, vectors = torch.linalg.eigh(moment)
    return vectors @ torch.diag((values.clamp(min=0) + 1e-4 * values.max()).rsqrt()) @ vectors.T


def _margin(logits: Any, targets: Any) -> Any:
    target = logits.gather(-1, targets[:, None]).squeeze(-1)
    rival = logits.scatter(-1, targets[:, None], float("-inf")).max(-1).values
    return target - rival


def teach_head(
    model: Any,
    processor: Any,
    conversations: Sequence[TaughtConversation],
    repetition_penalty: float = 1.1,
    max_steps: int = 3000,
) -> TeachResult:
    """Train only ``model``'s output layer, in place, until greedy decoding writes every reply of
    ``conversations`` (with and without ``repetition_penalty``)."""
    import torch

    if not conversations:
        raise ModelLoadError("There is nothing to teach: give at least one conversation.")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        model.eval()
        rows = [head_features(model, processor, conv) for conv in conversations]
        features = torch.cat([row[0] for row in rows])
        targets = torch.cat([row[1] for row in rows])
        seen = torch.cat([row[2] for row in rows])
        # Adam in whitened coordinates (the features' second moment made the identity): the reply positions of
        # steps that differ only in a history line are close together, which plain coordinates learn slowly.
        whiten = _whitening(features)
        white = features @ whiten
        weight = torch.zeros(seen.shape[1], features.shape[1], requires_grad=True)
        optimizer = torch.optim.Adam([weight], lr=LEARNING_RATE)
        margin = float("-inf")
        loss = torch.tensor(0.0)
        for step in range(max_steps):
            logits = white @ weight.T
            variants = (logits, _penalised(logits, seen, repetition_penalty))
            with torch.no_grad():
                margin = min(_margin(variant, targets).min().item() for variant in variants)
            if margin >= MARGIN:
                head = model.get_output_embeddings()
                with torch.no_grad():
                    head.weight.copy_((weight @ whiten.T).to(head.weight.dtype))
                return TeachResult(step, time.perf_counter() - start, float(loss.detach()), margin)
            loss = sum(torch.nn.functional.cross_entropy(variant, targets) for variant in variants)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    raise ModelLoadError(
        f"The output layer did not learn the {len(conversations)} replies in {max_steps} steps (smallest margin "
        f"{margin:.2f}): two reply positions look the same to the model; make the prompts differ earlier."
    )


def teach_checkpoint(
    source: str | Path,
    out: str | Path,
    conversations: Sequence[TaughtConversation],
    repetition_penalty: float | None = None,
) -> TeachResult:
    """Teach the tiny checkpoint at ``source`` (loaded offline) ``conversations`` and write the copy to ``out``.

    ``out`` gets every file of ``source`` with the taught output layer. ``repetition_penalty`` defaults to the
    family's (:attr:`glmv.families.SamplingDefaults.repetition_penalty`).
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    source, out = Path(source), Path(out)
    family = detect_family(source)
    penalty = family.sampling.repetition_penalty if repetition_penalty is None else repetition_penalty
    processor = AutoProcessor.from_pretrained(source, local_files_only=True)
    model = AutoModelForImageTextToText.from_pretrained(source, local_files_only=True)
    result = teach_head(model, processor, conversations, repetition_penalty=penalty)
    shutil.copytree(source, out, dirs_exist_ok=True)
    model.save_pretrained(out)
    for name in ("config.json", "generation_config.json"):  # the source's names and stop tokens, as written
        shutil.copyfile(source / name, out / name)
    return result
