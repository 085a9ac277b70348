"""Fine-tuning data throughput on this machine: ``glmv.finetune`` convert + check, one image per sample.

Writes ``--samples`` OpenAI-chat JSONL samples (a system prompt, one user turn with its own PNG image — every
sample a different file, sizes cycling through 224x224, 448x336, 640x480 and 1280x720 — and a reply with
reasoning and a boxed answer), then times, best of ``--repeats`` runs with the media-measurement cache cleared
before each:

- ``convert``: :func:`glmv.finetune.convert_files` to LLaMA-Factory for GLM-4.5V — read, parse, check each
  sample, read every image header for its token count, hard-link the images into the dataset folder, write
  ``data.jsonl`` and ``dataset_info.json``;
- ``check``: :func:`glmv.finetune.check` on the converted folder — read it back, check each sample, render it
  through the GLM-4.5V chat template, count tokens (image tokens from the image headers, text by the estimate or,
  with ``--tokenizer DIR``, the tokenizer), look for duplicates;
- ``convert + check``: both, one after the other (the figure the README quotes).

Run: python benchmarks/data.py [--samples 5000] [--repeats 3] [--tokenizer CHECKPOINT]
Prints a table and writes data.json into --out DIR (default ~/.cache/glmv/benchmarks).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from PIL import Image

from glmv.finetune import TokenCounter, check, convert_files, load_samples
from glmv.finetune.media import _measure

SIZES = [(224, 224), (448, 336), (640, 480), (1280, 720)]
FAMILY = "glm-4.5v"


def write_dataset(folder: Path, count: int) -> Path:
    images = folder / "images"
    images.mkdir(parents=True)
    lines = []
    for index in range(count):
        width, height = SIZES[index % len(SIZES)]
        path = images / f"{index:06d}.png"
        Image.new("RGB", (width, height), (index % 256, (index * 7) % 256, 90)).save(path, compress_level=1)
        record = {
            "id": f"s{index}",
            "messages": [
                {"role": "system", "content": "You are a careful visual assistant."},
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": str(path)}},
                        {
                            "type": "text",
                            "text": f"Where is object number {index} in this picture? Give its box.",
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "reasoning_content": f"I look for object {index}. It sits near the centre, a little left.",
                    "content": "It is at <|begin_of_box|>[[310,220,540,610]]<|end_of_box|>.",
                },
            ],
        }
        lines.append(json.dumps(record))
    source = folder / "chat.jsonl"
    source.write_text("\n".join(lines) + "\n")
    return source


def _timed(run) -> tuple[float, float, object]:
    _measure.cache_clear()
    w0, c0 = time.perf_counter(), time.process_time()
    result = run()
    return time.process_time() - c0, time.perf_counter() - w0, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--tokenizer", type=Path, default=None, help="count text with this checkpoint's tokenizer"
    )
    parser.add_argument("--out", type=Path, default=Path("~/.cache/glmv/benchmarks").expanduser())
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="glmv-bench-data-"))
    try:
        source = write_dataset(root, args.samples)
        counter = TokenCounter(args.tokenizer)
        best: dict[str, tuple[float, float]] = {}
        output = root / "out"
        for _ in range(args.repeats):
            shutil.rmtree(output, ignore_errors=True)
            cpu_c, wall_c, result = _timed(lambda: convert_files([source], output, FAMILY, "llamafactory"))
            assert len(result.records) == args.samples and not result.problems, result.problems[:3]
            cpu_k, wall_k, report = _timed(lambda: check(load_samples([output]), FAMILY, counter=counter))
            assert report.samples == args.samples and report.ok, report.problems[:3]
            for name, cpu, wall in (
                ("convert", cpu_c, wall_c),
                ("check", cpu_k, wall_k),
                ("convert + check", cpu_c + cpu_k, wall_c + wall_k),
            ):
                old = best.get(name, (float("inf"), float("inf")))
                best[name] = (min(old[0], cpu), min(old[1], wall))
        lengths = sorted(report.lengths.values())
    finally:
        shutil.rmtree(root, ignore_errors=True)

    rows = {
        name: {"samples_per_s_cpu": args.samples / cpu, "samples_per_s_wall": args.samples / wall}
        for name, (cpu, wall) in best.items()
    }
    report_json = {
        "benchmark": "data",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "samples": args.samples,
        "images_per_sample": 1,
        "family": FAMILY,
        "text_tokens": "estimated" if counter.estimated else str(args.tokenizer),
        "median_tokens": lengths[len(lengths) // 2],
        "results": rows,
    }
    print(
        f"glmv data: {args.samples} samples, 1 image each, {FAMILY}, text tokens {report_json['text_tokens']}, "
        f"median {report_json['median_tokens']} tokens/sample; best of {args.repeats}"
    )
    print(f"{'step':<18}{'samples/s (CPU)':>18}{'samples/s (wall)':>18}")
    for name, row in rows.items():
        print(f"{name:<18}{row['samples_per_s_cpu']:>18,.0f}{row['samples_per_s_wall']:>18,.0f}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "data.json"
    path.write_text(json.dumps(report_json, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
