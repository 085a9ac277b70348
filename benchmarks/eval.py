"""Eval runner benchmark: the runner's own items/s on a scripted engine, and the concurrency gain on ``glmv serve``.

1. **Runner overhead** — ``glmv.eval.run`` over ``--items`` generated records with a :class:`ScriptedEngine`
   replying instantly: load the records, build the prompt (and probe the embedded image), stream and parse the
   reply, extract, score, append to ``results.jsonl``, summarise. Tasks: ``mmmu`` open questions (text only) and
   ``docvqa`` with a 64×64 PNG per record. Target: ≥ 500 items/s on the text-answer task.
2. **Concurrency gain** — ``glmv serve`` on a random-weight tiny checkpoint (``--tiny-size``, default ``bench``
   ~50 M parameters) in a subprocess on a free loopback port; ``--serve-items`` text questions of ``--max-tokens``
   tokens each (thinking off, greedy), at concurrency 1 and 8. The gain is items/s at 8 over items/s at 1.

Run: ``python benchmarks/eval.py`` (``--items 2000 --serve-items 32 --max-tokens 32``; ``--skip-serve`` for part 1
only). Prints a table and writes ``eval.json`` into ``--out DIR`` (default ``~/.cache/glmv/benchmarks``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from glmv.engine import open_engine
from glmv.engine.scripted import ScriptedEngine
from glmv.errors import GlmvError
from glmv.eval import Protocol, run
from glmv.testing.serving import free_port, wait_until_healthy

RESULTS_DIR = Path.home() / ".cache" / "glmv" / "benchmarks"
REPLY = "<think>I add the two numbers and check the sum.</think>The sum is <|begin_of_box|>{}<|end_of_box|>."


def _png() -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _records(task: str, count: int) -> list[dict]:
    if task == "mmmu":
        return [
            {"id": f"q{n}", "question": f"What is {n} + {n}?", "answer": str(2 * n), "question_type": "open"}
            for n in range(count)
        ]
    image = _png()
    return [
        {"id": f"q{n}", "question": f"What is {n} + {n}?", "answers": [str(2 * n)], "image": image}
        for n in range(count)
    ]


def _overhead(task: str, count: int, concurrency: int) -> dict:
    rows = _records(task, count)
    engine = ScriptedEngine(default=REPLY.format(42))
    with tempfile.TemporaryDirectory(prefix="glmv-bench-eval-") as folder:
        started = time.perf_counter()
        outcome = run(task, rows, engine, "official", out=folder, concurrency=concurrency, plots=False)
        seconds = time.perf_counter() - started
    return {
        "part": "runner",
        "task": task,
        "items": len(outcome.results),
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "items_per_s": round(len(outcome.results) / seconds, 1),
    }


@contextlib.contextmanager
def _tiny_server(family: str, size: str, max_batch_size: int) -> Iterator[str]:
    from glmv.testing import tiny_checkpoint

    with tempfile.TemporaryDirectory(prefix="glmv-bench-eval-") as folder:
        checkpoint = tiny_checkpoint(family, Path(folder) / family, size=size)
        port = free_port()
        command = [sys.executable, "-m", "glmv", "serve", "-m", str(checkpoint), "--port", str(port)]
        command += ["--served-model-name", family, "--max-batch-size", str(max_batch_size)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            try:
                wait_until_healthy(f"http://127.0.0.1:{port}", process, timeout=300, interval=0.5)
            except GlmvError as exc:
                raise SystemExit(f"glmv serve did not come up: {exc}") from exc
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _served(url: str, family: str, count: int, max_tokens: int, concurrency: int) -> dict:
    protocol = Protocol(
        "no-think", thinking_budget=None, enable_thinking=False, max_tokens=max_tokens, temperature=0
    )
    engine = open_engine(url, family=family)
    try:
        run("mmmu", _records("mmmu", 2), engine, protocol, plots=False)  # warm-up
        started = time.perf_counter()
        outcome = run("mmmu", _records("mmmu", count), engine, protocol, concurrency=concurrency, plots=False)
        seconds = time.perf_counter() - started
    finally:
        engine.close()
    tokens = sum(result.completion_tokens for result in outcome.results)
    return {
        "part": "serve",
        "task": "mmmu",
        "items": len(outcome.results),
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "items_per_s": round(len(outcome.results) / seconds, 2),
        "output_tokens_per_s": round(tokens / seconds, 1),
        "failures": outcome.summary["failures"]["count"],
    }


def _hardware() -> dict:
    return {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()}


def _table(rows: list[dict]) -> str:
    lines = [f"{'part':<7} {'task':<8} {'conc':>4} {'items':>6} {'seconds':>8} {'items/s':>9}"]
    for row in rows:
        lines.append(
            f"{row['part']:<7} {row['task']:<8} {row['concurrency']:>4} {row['items']:>6} "
            f"{row['seconds']:>8.2f} {row['items_per_s']:>9.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=2000, help="Records for the runner-overhead part.")
    parser.add_argument("--serve-items", type=int, default=32, help="Questions sent to glmv serve per level.")
    parser.add_argument("--max-tokens", type=int, default=32, help="Tokens per reply from glmv serve.")
    parser.add_argument("--tiny-family", default="glm-4.6v-flash")
    parser.add_argument("--tiny-size", default="bench", choices=["small", "bench"])
    parser.add_argument("--skip-serve", action="store_true", help="Only the runner-overhead part.")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="Folder for eval.json.")
    args = parser.parse_args()

    rows = [_overhead(task, args.items, conc) for task in ("mmmu", "docvqa") for conc in (1, 4)]
    gain = None
    if not args.skip_serve:
        with _tiny_server(args.tiny_family, args.tiny_size, 8) as url:
            served = [_served(url, args.tiny_family, args.serve_items, args.max_tokens, c) for c in (1, 8)]
        rows += served
        gain = served[1]["items_per_s"] / served[0]["items_per_s"] if served[0]["items_per_s"] else None
    print(_table(rows))
    if gain is not None:
        print(f"concurrency gain against glmv serve (items/s at 8 / at 1): {gain:.2f}x")
    report = {
        "benchmark": "eval",
        "settings": {
            "items": args.items,
            "serve_items": args.serve_items,
            "max_tokens": args.max_tokens,
            "tiny_family": args.tiny_family,
            "tiny_size": args.tiny_size,
        },
        "hardware": _hardware(),
        "rows": rows,
        "concurrency_gain_8_vs_1": gain,
    }
    out = args.out / "eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
