"""LocalEngine overhead and batching on CPU: a ~50 M-parameter random GLM-4.6V-Flash-shaped checkpoint.

1. **Streaming overhead.** The same prompt, the same ``max_new_tokens``, greedy, through
   ``LocalEngine.generate`` (template rendering, processor, scheduler, detokenising, the streaming parser,
   chunks) and through a bare ``model.generate`` on the processor's tensors. Both must produce exactly
   ``--tokens`` tokens (the random model never emits a stop token on this prompt; the script checks). Reported:
   tokens/s of each (median of ``--repeats`` interleaved runs) and the engine's overhead in percent (bar: 5 %).
2. **Batching.** Eight different requests sent at once from eight threads (the scheduler batches them, left
   padding) against the same eight sent one after another. Reported: total tokens/s of each and the speed-up.

Run: ``python benchmarks/engine_overhead.py`` (``--tokens 64 --repeats 5 --threads N``; ``--checkpoint DIR``
reuses a checkpoint built by an earlier run). Writes ``benchmarks/results/engine_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "engine_overhead.json"
FAMILY = "glm-4.6v-flash"
PROMPTS = [
    "Describe the weather in Paris in spring.",
    "What is 15 + 27? Explain step by step.",
    "Write a short poem about a red square.",
    "List three colours and one thing of each colour.",
    "Compare the two images.",
    "Count from one to twenty.",
    "What is the capital of France?",
    "Summarise the plot of a film you like.",
]


def build(checkpoint: Path | None) -> Path:
    from glmv.testing import tiny_checkpoint

    if checkpoint is not None and (checkpoint / "config.json").exists():
        return checkpoint
    folder = checkpoint or Path(tempfile.mkdtemp(prefix="glmv-bench-")) / FAMILY
    print(f"Building a random 'bench' checkpoint in {folder} …")
    return tiny_checkpoint(FAMILY, folder, size="bench")


def request(prompt: str, tokens: int):
    from glmv.engine import ChatRequest

    return ChatRequest(
        messages=[{"role": "user", "content": prompt}],
        max_tokens=tokens,
        temperature=0,
        repetition_penalty=1.0,
    )


def engine_run(engine, prompt: str, tokens: int) -> tuple[float, int]:
    """Seconds from the call to the last chunk, and the completion tokens reported."""
    start = time.perf_counter()
    usage = None
    for chunk in engine.generate(request(prompt, tokens)):
        if chunk.usage is not None:
            usage = chunk.usage
    return time.perf_counter() - start, usage.completion_tokens


def bare_run(engine, inputs: dict, tokens: int) -> tuple[float, int]:
    """Seconds of a bare ``model.generate`` on ready tensors, and the tokens it generated."""
    import torch

    start = time.perf_counter()
    with torch.inference_mode():
        out = engine.model.generate(
            **inputs,
            max_new_tokens=tokens,
            do_sample=False,
            repetition_penalty=1.0,
            eos_token_id=list(engine.stop_ids),
            pad_token_id=engine.pad_id,
        )
    return time.perf_counter() - start, out.shape[1] - inputs["input_ids"].shape[1]


def overhead(engine, tokens: int, repeats: int) -> dict:
    prompt = PROMPTS[0]
    inputs = engine._prepare(request(prompt, tokens)).inputs
    engine_run(engine, prompt, 4)  # warm up both paths
    bare_run(engine, inputs, 4)
    engine_times, bare_times = [], []
    for _ in range(repeats):
        seconds, produced = bare_run(engine, inputs, tokens)
        assert produced == tokens, f"bare generate stopped after {produced} tokens"
        bare_times.append(seconds)
        seconds, produced = engine_run(engine, prompt, tokens)
        assert produced == tokens, f"the engine stopped after {produced} tokens"
        engine_times.append(seconds)
    bare, eng = statistics.median(bare_times), statistics.median(engine_times)
    return {
        "tokens": tokens,
        "prompt_tokens": int(inputs["input_ids"].shape[1]),
        "repeats": repeats,
        "bare_seconds": bare_times,
        "engine_seconds": engine_times,
        "bare_tokens_per_s": tokens / bare,
        "engine_tokens_per_s": tokens / eng,
        "overhead_percent": (eng / bare - 1) * 100,
    }


def batching(engine, tokens: int) -> dict:
    start = time.perf_counter()
    for prompt in PROMPTS:
        engine_run(engine, prompt, tokens)
    sequential = time.perf_counter() - start

    barrier = threading.Barrier(len(PROMPTS))
    produced: list[tuple[int, int]] = []  # (completion tokens, rows of the batch it ran in)

    def worker(prompt: str) -> None:
        barrier.wait()
        generation = engine.start(request(prompt, tokens))
        usage = [chunk.usage for chunk in generation if chunk.usage is not None][-1]  # reads the whole stream
        produced.append((usage.completion_tokens, generation.batch_size))

    threads = [threading.Thread(target=worker, args=(prompt,)) for prompt in PROMPTS]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    concurrent = time.perf_counter() - start
    total = len(PROMPTS) * tokens
    done = sum(count for count, _ in produced)
    return {
        "requests": len(PROMPTS),
        "tokens_each": tokens,
        "completion_tokens_concurrent": done,
        "batch_rows_seen": sorted(rows for _, rows in produced),
        "sequential_seconds": sequential,
        "concurrent_seconds": concurrent,
        "sequential_tokens_per_s": total / sequential,
        "concurrent_tokens_per_s": done / concurrent,
        "speedup": (done / concurrent) / (total / sequential),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--checkpoint", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from glmv.engine import LocalEngine

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = build(args.checkpoint)
    with LocalEngine(folder, device="cpu") as engine:
        parameters = sum(p.numel() for p in engine.model.parameters())
        load_before = os.getloadavg()
        result_overhead = overhead(engine, args.tokens, args.repeats)
        result_batching = batching(engine, args.tokens)
        load_after = os.getloadavg()

    result = {
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "torch": torch.__version__,
        },
        "checkpoint": {"family": FAMILY, "parameters": parameters, "dtype": "float32", "device": "cpu"},
        "streaming_overhead": result_overhead,
        "batching": result_batching,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    o, b = result_overhead, result_batching
    print(f"\n{FAMILY}-shaped random checkpoint, {parameters / 1e6:.1f} M parameters, CPU float32, ")
    print(
        f"{torch.get_num_threads()} torch threads, load average {load_before[0]:.1f} → {load_after[0]:.1f}\n"
    )
    print(f"{'measure':<44}{'value':>14}")
    print("-" * 58)
    rows = [
        (f"bare model.generate, tokens/s ({o['tokens']} new)", f"{o['bare_tokens_per_s']:.1f}"),
        ("LocalEngine streaming, tokens/s", f"{o['engine_tokens_per_s']:.1f}"),
        ("engine overhead (bar: 5 %)", f"{o['overhead_percent']:+.1f} %"),
        (f"{b['requests']} requests one after another, tokens/s", f"{b['sequential_tokens_per_s']:.1f}"),
        (f"{b['requests']} concurrent requests (batched), tokens/s", f"{b['concurrent_tokens_per_s']:.1f}"),
        ("batched speed-up", f"{b['speedup']:.2f}×"),
        ("batch size seen by each request", " ".join(map(str, b["batch_rows_seen"]))),
    ]
    for name, value in rows:
        print(f"{name:<44}{value:>14}")
    print(f"\nWrote {RESULTS}")


if __name__ == "__main__":
    main()
