"""Proof that converted data trains: a LoRA smoke fine-tune on a tiny checkpoint, and LLaMA-Factory's own
dataset loading on our output.

The smoke run converts a small chat dataset with images into a LLaMA-Factory folder, reads it back, renders each
sample for the family (prompt exactly as the chat template writes it, the reply as trained), trains LoRA adapters
(peft, :func:`glmv.testing.lora.lora_smoke`) until greedy decoding should reproduce every reply, and replays the
prompts.

LLaMA-Factory 0.9.5 cannot be installed into glmv's environment (it pins transformers <= 5.6, peft <= 0.18.1 and
imports torchaudio, for which no release matches this torch). ``GLMV_LLAMAFACTORY_PYTHON`` may name the python of
a separate venv holding it (``.ci/run`` builds one); the test then runs LLaMA-Factory's ``get_dataset`` with its
``glm4v`` / ``glm4_5v`` templates on our output and compares the token ids it would train on with our rendering.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from glmv.families import get_family
from glmv.finetune import TokenCounter, convert_files, load_samples, render
from glmv.finetune.render import END_OF_TEXT

COLOURS = {
    "red": ((56, 56), (220, 30, 30)),
    "blue": ((84, 56), (30, 60, 220)),
    "green": ((56, 84), (30, 180, 60)),
}


def _dataset(folder: Path) -> Path:
    records = []
    for name, (size, colour) in COLOURS.items():
        Image.new("RGB", size, colour).save(folder / f"{name}.png")
        records.append(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": f"{name}.png"}},
                            {"type": "text", "text": "What colour is this?"},
                        ],
                    },
                    {
                        "role": "assistant",
                        "content": f"It is <|begin_of_box|>{name}<|end_of_box|>.",
                        "reasoning_content": f"The picture is {name}.",
                    },
                ]
            }
        )
    records.append(
        {
            "messages": [
                {"role": "user", "content": "Say hello."},
                {"role": "assistant", "content": "<think>Greeting.</think>Hello!"},
            ]
        }
    )
    path = folder / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_lora_smoke_fine_tune_reproduces_the_converted_replies(tmp_path, tiny_checkpoints):
    from glmv.testing.lora import TrainingRow, lora_smoke

    family = "glm-4.1v-thinking"
    checkpoint = tiny_checkpoints(family, taught=False)
    result = convert_files([_dataset(tmp_path)], tmp_path / "lf", family, "llamafactory")
    assert len(result.records) == 4 and not result.problems
    counter = TokenCounter(checkpoint)
    rows = []
    for sample in load_samples([tmp_path / "lf"]):
        rendered = render(sample, family, counter=counter)
        prompt = "".join(s.text for s in rendered.segments if not s.trained)
        reply = "".join(s.text for s in rendered.segments if s.trained)
        rows.append(TrainingRow(prompt, reply, tuple(url for _kind, url in sample.media())))
    assert sum(len(row.images) for row in rows) == 3

    trained = lora_smoke(checkpoint, rows, max_steps=250)

    assert 10 <= len(trained.losses) < 250 and trained.losses[-1] < 0.75 * trained.losses[0]
    stops = get_family(family).stop_tokens
    for row, got in zip(rows, trained.replies, strict=True):
        # generation ends at the first stop token: </answer> for 4.1V, before the trained <|endoftext|>
        expected = row.reply.removesuffix(END_OF_TEXT)
        assert got in (row.reply, expected) and expected.endswith(stops), (got, row.reply)


LOADER = r"""
import os, sys, json
os.environ["DISABLE_VERSION_CHECK"] = "1"
from transformers import AutoProcessor
from llamafactory.hparams import get_train_args
from llamafactory.data import get_dataset, get_template_and_fix_tokenizer

checkpoint, folder, template, out = sys.argv[1:5]
args = dict(model_name_or_path=checkpoint, stage="sft", do_train=True, finetuning_type="lora", dataset="glmv_data",
            dataset_dir=folder, template=template, cutoff_len=4096, output_dir=out, overwrite_cache=True,
            report_to="none")
model_args, data_args, training_args, *_ = get_train_args(args)
processor = AutoProcessor.from_pretrained(checkpoint)
tokenizer = processor.tokenizer
template_obj = get_template_and_fix_tokenizer(tokenizer, data_args)
dataset = get_dataset(template_obj, model_args, data_args, training_args, stage="sft", tokenizer=tokenizer,
                      processor=processor)["train_dataset"]
rows = [{"text": tokenizer.decode(r["input_ids"], skip_special_tokens=False),
         "labels": tokenizer.decode([i for i in r["labels"] if i != -100], skip_special_tokens=False)} for r in dataset]
json.dump(rows, open(os.path.join(out, "rows.json"), "w"))
"""


def _llamafactory_rows(python: str, checkpoint: Path, folder: Path, template: str, out: Path) -> list[dict]:
    """What LLaMA-Factory's ``get_dataset`` makes of the dataset ``folder``: per row the decoded text and labels."""
    stub = out / "stub" / "torchaudio"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('"""LLaMA-Factory imports torchaudio at start-up, for audio only."""\n')
    (out / "loader.py").write_text(LOADER)
    env = {**os.environ, "PYTHONPATH": str(out / "stub")}
    command = [python, str(out / "loader.py"), str(checkpoint), str(folder), template, str(out)]
    subprocess.run(command, check=True, env=env, timeout=300, capture_output=True)
    return json.loads((out / "rows.json").read_text())


def _llamafactory_python() -> str:
    """The python of the LLaMA-Factory venv; the test skips without one, except in CI (``.ci/run`` makes one)."""
    python = os.environ.get("GLMV_LLAMAFACTORY_PYTHON")
    if not python:
        reason = "GLMV_LLAMAFACTORY_PYTHON names no python with LLaMA-Factory (see the module docstring)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return python


@pytest.mark.parametrize(("family", "template"), [("glm-4.1v-thinking", "glm4v"), ("glm-4.5v", "glm4_5v")])
def test_llamafactory_reads_our_dataset_with_its_glm_templates(tmp_path, tiny_checkpoints, family, template):
    python = _llamafactory_python()
    checkpoint = tiny_checkpoints(family, taught=False)
    convert_files([_dataset(tmp_path)], tmp_path / "lf", family, "llamafactory")
    rows = _llamafactory_rows(python, checkpoint, tmp_path / "lf", template, tmp_path / "out")
    counter = TokenCounter(checkpoint)
    ours = [render(sample, family, counter=counter) for sample in load_samples([tmp_path / "lf"])]
    assert len(rows) == len(ours) == 4
    for row, rendered in zip(rows, ours, strict=True):
        assert row["text"] == rendered.text
        # LLaMA-Factory also trains the newline after <|assistant|>, which the generation prompt holds
        assert row["labels"] == "\n" + "".join(s.text for s in rendered.segments if s.trained)


TOOL_LOOP = {
    "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "need the tool",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny, 21C"},
        {"role": "assistant", "content": "It is sunny.", "reasoning_content": "tool says sunny"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ],
}
OFFICIAL_CALL = (
    "<think>need the tool</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n"
    "</tool_call>"
)


def test_llamafactory_trains_the_official_tool_call_text_with_inline_tool_calls(tmp_path, tiny_checkpoints):
    """LLaMA-Factory's glm4_5v ``function_call`` format writes no ``</tool_call>``; ``tool_calls="inline"`` makes
    it train the call exactly as the official GLM-4.5V template writes it."""
    python = _llamafactory_python()
    checkpoint = tiny_checkpoints("glm-4.5v", taught=False)
    source = tmp_path / "tools.jsonl"
    source.write_text(json.dumps(TOOL_LOOP) + "\n")
    labels = {}
    for mode in ("framework", "inline"):
        convert_files([source], tmp_path / mode, "glm-4.5v", "llamafactory", tool_calls=mode)
        (row,) = _llamafactory_rows(python, checkpoint, tmp_path / mode, "glm4_5v", tmp_path / f"{mode}-out")
        labels[mode] = row["labels"]
    assert OFFICIAL_CALL in labels["inline"] and "It is sunny." in labels["inline"]
    assert "</tool_call>" not in labels["framework"]  # LLaMA-Factory's own glm4_moe format, for the record
