"""LocalEngine overhead and batching on CPU: a ~50 M-parameter random GLM-4.6V-Flash-shaped checkpoint.

1. **Streaming overhead.** The same prompt, the same ``max_new_tokens``, greedy, through
   ``LocalEngine.generate`` and through a bare ``model.generate`` on the processor's tensors (prepared once,
   outside the timing). The engine's time **includes its own prompt preparation** (chat template, processor),
   the decode loop's worker thread, detokenising, the streaming parser and the chunks. Both
   must produce exactly ``--tokens`` tokens (the random model never emits a stop token on this prompt; the
   script checks). Each repeat runs both paths back to back, alternating which goes first, so slow drifts of a
   shared machine's load hit both alike. Reported, from ``--repeats`` repeats:

   - wall seconds and tokens/s of each (medians) and the engine's overhead: the median over repeats of the
     ratio engine / bare of the two runs of a repeat (bar: 5 %);
   - the fixed cost (a 1-token run of each path, median) and the per-token cost: (wall of ``--tokens`` − wall
     of 1 token) / (``--tokens`` − 1), so a constant start-up cost does not hide in the per-token number.
2. **Batching.** Eight different requests sent at once from eight threads (each calling ``engine.start``, as
   an HTTP server does; continuous batching decodes them together) against the same eight sent one after
   another; ``--batch-rounds`` rounds, interleaved. Reported: total tokens/s of each (median), the speed-up and
   the batch size every request ran in.
3. **Collecting.** ``Engine.chat`` against draining ``Engine.generate`` on one long scripted reply
   (``--chat-characters`` characters of reasoning, boxed answers and a tool call through ``ScriptedEngine``):
   what ``chat`` costs on top of the stream it collects (CPU seconds, best of ``--repeats``).

Run: ``python benchmarks/engine_overhead.py`` (``--tokens 64 --repeats 9 --batch-rounds 2 --threads N``;
``--checkpoint DIR`` reuses a checkpoint built by an earlier run). Writes ``engine_overhead.json`` into
``--out DIR`` (default ``~/.cache/glmv/benchmarks``).
On a 2-core machine shared with other work, note the load average the script prints: another process taking a
core slows whichever run is going, which is why the overhead is a median of paired ratios.
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

RESULTS_DIR = Path.home() / ".cache" / "glmv" / "benchmarks"
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


def timed_pair(engine, prompt: str, inputs: dict, tokens: int, engine_first: bool) -> tuple[float, float]:
    """Wall seconds of one bare and one engine run of ``tokens`` tokens, back to back."""
    times: dict[str, float] = {}
    for path in ("engine", "bare") if engine_first else ("bare", "engine"):
        if path == "bare":
            seconds, produced = bare_run(engine, inputs, tokens)
        else:
            seconds, produced = engine_run(engine, prompt, tokens)
        assert produced == tokens, f"{path} stopped after {produced} of {tokens} tokens"
        times[path] = seconds
    return times["bare"], times["engine"]


def overhead(engine, tokens: int, repeats: int) -> dict:
    prompt = PROMPTS[0]
    inputs = engine._prepare(request(prompt, tokens)).inputs
    for _ in range(2):  # warm up both paths at full length (allocator, thread pools, caches)
        timed_pair(engine, prompt, inputs, tokens, engine_first=False)
    bare_times, engine_times, bare_one, engine_one = [], [], [], []
    for repeat in range(repeats):
        first = repeat % 2 == 1
        bare, eng = timed_pair(engine, prompt, inputs, tokens, engine_first=first)
        bare_times.append(bare)
        engine_times.append(eng)
        bare, eng = timed_pair(engine, prompt, inputs, 1, engine_first=first)
        bare_one.append(bare)
        engine_one.append(eng)
    median = statistics.median
    bare, eng = median(bare_times), median(engine_times)
    ratios = [e / b for e, b in zip(engine_times, bare_times, strict=True)]
    per_token_bare = (bare - median(bare_one)) / (tokens - 1)
    per_token_engine = (eng - median(engine_one)) / (tokens - 1)
    return {
        "tokens": tokens,
        "prompt_tokens": int(inputs["input_ids"].shape[1]),
        "repeats": repeats,
        "engine_time_includes": "prompt preparation (chat template, processor), worker thread, streaming",
        "bare_seconds": bare_times,
        "engine_seconds": engine_times,
        "bare_one_token_seconds": bare_one,
        "engine_one_token_seconds": engine_one,
        "bare_tokens_per_s": tokens / bare,
        "engine_tokens_per_s": tokens / eng,
        "overhead_percent": (median(ratios) - 1) * 100,
        "overhead_percent_of_medians": (eng / bare - 1) * 100,
        "overhead_percent_of_fastest": (min(engine_times) / min(bare_times) - 1) * 100,
        "bare_first_token_ms": median(bare_one) * 1e3,
        "engine_first_token_ms": median(engine_one) * 1e3,
        "bare_ms_per_token": per_token_bare * 1e3,
        "engine_ms_per_token": per_token_engine * 1e3,
        "per_token_overhead_percent": (per_token_engine / per_token_bare - 1) * 100,
    }


def sequential_round(engine, tokens: int) -> float:
    start = time.perf_counter()
    for prompt in PROMPTS:
        _, produced = engine_run(engine, prompt, tokens)
        assert produced == tokens, f"a sequential request stopped after {produced} of {tokens} tokens"
    return time.perf_counter() - start


def concurrent_round(engine, tokens: int) -> tuple[float, int, list[int]]:
    """Seconds, completion tokens and the batch rows of each request, for the prompts sent from threads."""
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
    seconds = time.perf_counter() - start
    return seconds, sum(count for count, _ in produced), sorted(rows for _, rows in produced)


def batching(engine, tokens: int, rounds: int) -> dict:
    sequential, concurrent, done, rows_seen = [], [], [], []
    for _ in range(rounds):
        sequential.append(sequential_round(engine, tokens))
        seconds, count, rows = concurrent_round(engine, tokens)
        concurrent.append(seconds)
        done.append(count)
        rows_seen.append(rows)
    total = len(PROMPTS) * tokens
    assert all(count == total for count in done), f"concurrent requests produced {done} of {total} tokens"
    seq, conc = statistics.median(sequential), statistics.median(concurrent)
    return {
        "requests": len(PROMPTS),
        "tokens_each": tokens,
        "rounds": rounds,
        "batch_rows_seen": rows_seen,
        "sequential_seconds": sequential,
        "concurrent_seconds": concurrent,
        "sequential_tokens_per_s": total / seq,
        "concurrent_tokens_per_s": total / conc,
        "speedup": seq / conc,
    }


def long_reply(characters: int) -> str:
    """A GLM-style reply of about ``characters`` characters: reasoning, boxed answers, one tool call."""
    reasoning = "Let me look at the image carefully; 15 + 27 = 42. " * (characters * 4 // 10 // 50)
    answer = "The answer is <|begin_of_box|>42<|end_of_box|>, the car at [[120,340,410,620]].\n" * (
        characters * 5 // 10 // 80
    )
    call = "<tool_call>write_file\n<arg_key>text</arg_key>\n<arg_value>" + "x" * (characters // 10)
    return f"<think>{reasoning}</think>{answer}{call}</arg_value>\n</tool_call>"


def collecting(characters: int, repeats: int) -> dict:
    """CPU seconds of ``Engine.chat`` and of draining ``Engine.generate`` on one long scripted reply."""
    from glmv.engine import ChatRequest, ScriptedEngine

    engine = ScriptedEngine(default=long_reply(characters))
    chat_request = ChatRequest(messages=[{"role": "user", "content": "Describe the image."}])

    def drain() -> None:
        for _ in engine.generate(chat_request):
            pass

    best = {"generate": float("inf"), "chat": float("inf")}
    for _ in range(repeats):
        for name, run in (("generate", drain), ("chat", lambda: engine.chat(chat_request))):
            started = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - started)
    return {
        "characters": len(long_reply(characters)),
        "repeats": repeats,
        "generate_cpu_seconds": best["generate"],
        "chat_cpu_seconds": best["chat"],
        "chat_extra_percent": (best["chat"] / best["generate"] - 1) * 100,
    }


def batch_rows(rows: list[int]) -> str:
    """``8×8`` for eight requests that all ran in a batch of 8, ``2×2 6×6`` for a batch of 2 and one of 6."""
    return " ".join(f"{size}×{rows.count(size)}" for size in sorted(set(rows)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--batch-rounds", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--chat-characters", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for engine_overhead.json")
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
        result_batching = batching(engine, args.tokens, args.batch_rounds)
        load_after = os.getloadavg()
    result_collecting = collecting(args.chat_characters, args.repeats)

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
        "collecting": result_collecting,
    }
    out = args.out / "engine_overhead.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

    o, b, c = result_overhead, result_batching, result_collecting
    print(f"\n{FAMILY}-shaped random checkpoint, {parameters / 1e6:.1f} M parameters, CPU float32, ")
    print(
        f"{torch.get_num_threads()} torch threads, load average {load_before[0]:.1f} → {load_after[0]:.1f}\n"
    )
    width = 58
    print(f"{'measure (medians)':<{width}}{'bare':>12}{'LocalEngine':>14}")
    print("-" * (width + 26))
    rows = [
        (f"wall seconds, {o['tokens']} new tokens", f"{o['tokens'] / o['bare_tokens_per_s']:.3f}",
         f"{o['tokens'] / o['engine_tokens_per_s']:.3f}"),
        ("tokens/s (wall)", f"{o['bare_tokens_per_s']:.1f}", f"{o['engine_tokens_per_s']:.1f}"),
        ("first token, ms (1-token run; engine: + prompt preparation)", f"{o['bare_first_token_ms']:.1f}",
         f"{o['engine_first_token_ms']:.1f}"),
        ("ms per further token", f"{o['bare_ms_per_token']:.2f}", f"{o['engine_ms_per_token']:.2f}"),
    ]  # fmt: skip
    for name, bare, eng in rows:
        print(f"{name:<{width}}{bare:>12}{eng:>14}")
    print()
    summary = [
        ("engine overhead, wall (median of paired ratios; bar: 5 %)", f"{o['overhead_percent']:+.1f} %"),
        ("engine overhead, wall (ratio of medians)", f"{o['overhead_percent_of_medians']:+.1f} %"),
        ("engine overhead, per further token", f"{o['per_token_overhead_percent']:+.1f} %"),
        (f"{b['requests']} requests one after another, tokens/s", f"{b['sequential_tokens_per_s']:.1f}"),
        (f"{b['requests']} concurrent requests (batched), tokens/s", f"{b['concurrent_tokens_per_s']:.1f}"),
        ("batched speed-up", f"{b['speedup']:.2f}×"),
        ("batch size seen by each request, per round", " | ".join(map(batch_rows, b["batch_rows_seen"]))),
        (f"ScriptedEngine, {c['characters']:,} chars: generate drained, CPU s", f"{c['generate_cpu_seconds']:.3f}"),
        ("ScriptedEngine: Engine.chat, CPU s", f"{c['chat_cpu_seconds']:.3f}"),
        ("Engine.chat cost on top of the stream", f"{c['chat_extra_percent']:+.1f} %"),
    ]  # fmt: skip
    for name, value in summary:
        print(f"{name:<{width}}{value:>26}")
    print(f"\nWrote {out}")


if __name__ == "__main__":
    main()
