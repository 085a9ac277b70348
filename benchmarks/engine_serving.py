"""LocalEngine under serving load on CPU: continuous batching against the previous engine, in one run.

Two engines are measured on the same random-weight checkpoints (``small``, ~0.4 M parameters, and ``bench``,
~50 M, GLM-4.6V-Flash-shaped, float32), each in its own subprocess, one after the other:

- **new**: the working tree's ``glmv`` (continuous batching);
- **old**: the engine of ``--baseline-ref`` (default ``HEAD``: the last commit, which batches requests that arrive
  together and runs each group through one ``model.generate``), unpacked with ``git archive`` into a temporary
  folder and put first on ``PYTHONPATH``. Nothing in the repository changes.

Scenarios, all greedy. A random checkpoint often picks ids that decode to no text at all, which would make
"time to the first text" the time to some later token; so in both engines alike such ids show as ``·`` (the
engines' shared detokenising function is wrapped in the worker), and TTFT is the time to the first token.

1. **Late arrivals.** ``--long`` requests of ``--long-tokens`` tokens start at once (clients that ask for long
   replies); then ``--arrivals`` requests of ``--tokens`` tokens arrive as a Poisson stream (exponential gaps of
   mean ``--gap`` seconds, the same seeded gaps for both engines) while those decode. Reported: TTFT (from the
   ``start`` call to the first chunk that carries text) p50 / p99 of the late arrivals, their mean latency, and
   output tokens/s of everything (all completion tokens / wall time from the first start to the last end).
2. **Multi-turn.** A ``--turns``-turn conversation (replies of ``--turn-tokens`` tokens fed back as history) with
   one ``--image-size`` square image in turn 1: TTFT of every turn, turn ``--turns`` over turn 1, and how often
   the vision tower ran (a forward hook on it).
3. **Batch-1 decode.** One request of ``--decode-tokens`` tokens through ``LocalEngine.generate`` against a bare
   ``model.generate`` on the processor's tensors (prepared once); each path's decode rate is
   (``N`` − 1) / (wall of ``N`` tokens − wall of 1 token), so prompt preparation and prefill drop out. Medians of
   ``--repeats`` paired runs, alternating which path goes first.

Each engine runs ``--rounds`` times (new → old, then old → new, …); every figure is the median over rounds.

Run: ``python benchmarks/engine_serving.py`` (``--sizes small bench --baseline-ref HEAD``). Prints a table and
writes ``engine_serving.json`` into ``--out DIR`` (default ``~/.cache/glmv/benchmarks``). The load average is
printed: on a shared 2-core machine other work slows whichever run is going.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

RESULTS_DIR = Path.home() / ".cache" / "glmv" / "benchmarks"
REPO = Path(__file__).resolve().parents[1]
FAMILY = "glm-4.6v-flash"
PROMPTS = [
    "Describe the weather in Paris in spring.",
    "What is 15 + 27? Explain step by step.",
    "Write a short poem about a red square.",
    "List three colours and one thing of each colour.",
    "Count from one to twenty.",
    "What is the capital of France?",
]


# -- the worker: one engine, one checkpoint (runs in a subprocess) ------------------------------------------------


def _request(prompt: str, tokens: int):
    from glmv.engine import ChatRequest

    return ChatRequest(
        messages=[{"role": "user", "content": prompt}],
        max_tokens=tokens,
        temperature=0,
        repetition_penalty=1.0,
    )


def _drain(generation, started: float, record: dict) -> None:
    first = None
    tokens = 0
    for chunk in generation:
        if first is None and (chunk.raw or chunk.reasoning or chunk.content):
            first = time.perf_counter()
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    end = time.perf_counter()
    record.update(ttft=(first or end) - started, latency=end - started, tokens=tokens, end=end)


def late_arrivals(engine, args) -> dict:
    rng = random.Random(args.seed)
    gaps = [rng.expovariate(1 / args.gap) for _ in range(args.arrivals)]
    records: list[dict] = [{} for _ in range(args.long + args.arrivals)]
    threads = []
    begin = time.perf_counter()

    def launch(slot: int, prompt: str, tokens: int) -> None:
        started = time.perf_counter()
        generation = engine.start(_request(prompt, tokens))
        thread = threading.Thread(target=_drain, args=(generation, started, records[slot]))
        thread.start()
        threads.append(thread)

    for slot in range(args.long):
        launch(slot, PROMPTS[slot % len(PROMPTS)], args.long_tokens)
    for number, gap in enumerate(gaps):
        time.sleep(gap)
        launch(args.long + number, PROMPTS[number % len(PROMPTS)], args.tokens)
    for thread in threads:
        thread.join()
    wall = max(r["end"] for r in records) - begin
    late = records[args.long :]
    ttfts = sorted(r["ttft"] for r in late)
    return {
        "long_requests": args.long,
        "long_tokens": args.long_tokens,
        "arrivals": args.arrivals,
        "tokens": args.tokens,
        "mean_gap_s": args.gap,
        "ttft_s": ttfts,
        "ttft_p50_ms": statistics.median(ttfts) * 1e3,
        "ttft_p99_ms": _percentile(ttfts, 99) * 1e3,
        "late_latency_mean_s": statistics.mean(r["latency"] for r in late),
        "completion_tokens": sum(r["tokens"] for r in records),
        "wall_s": wall,
        "output_tokens_per_s": sum(r["tokens"] for r in records) / wall,
    }


def _percentile(values: list[float], percent: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * percent / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _engine_seconds(engine, tokens: int) -> float:
    start = time.perf_counter()
    usage = None
    for chunk in engine.generate(_request(PROMPTS[0], tokens)):
        if chunk.usage is not None:
            usage = chunk.usage
    if usage.completion_tokens != tokens:
        raise SystemExit(f"the engine stopped after {usage.completion_tokens} of {tokens} tokens")
    return time.perf_counter() - start


def _bare_seconds(engine, inputs: dict, tokens: int) -> float:
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
    if out.shape[1] - inputs["input_ids"].shape[1] != tokens:
        raise SystemExit("bare generate stopped early")
    return time.perf_counter() - start


def batch_one(engine, args) -> dict:
    tokens = args.decode_tokens
    inputs = engine.processor(text=[engine.render_prompt(_request(PROMPTS[0], tokens))], return_tensors="pt")
    inputs = {k: v for k, v in inputs.items() if k != "token_type_ids"}
    paths = {
        "engine": lambda n: _engine_seconds(engine, n),
        "bare": lambda n: _bare_seconds(engine, inputs, n),
    }
    for run in paths.values():  # warm up
        run(tokens)
    times: dict[str, dict[int, list[float]]] = {name: {tokens: [], 1: []} for name in paths}
    for repeat in range(args.repeats):
        order = list(paths) if repeat % 2 else list(reversed(paths))
        for count in (tokens, 1):
            for name in order:
                times[name][count].append(paths[name](count))
    result: dict = {"tokens": tokens, "repeats": args.repeats}
    for name in paths:
        full, one = statistics.median(times[name][tokens]), statistics.median(times[name][1])
        result[name] = {
            "wall_s": full,
            "one_token_s": one,
            "wall_tokens_per_s": tokens / full,
            "decode_tokens_per_s": (tokens - 1) / (full - one),
        }
    result["decode_ratio_engine_to_bare"] = (
        result["engine"]["decode_tokens_per_s"] / result["bare"]["decode_tokens_per_s"]
    )
    return result


QUESTIONS = [
    "What is in this picture?",
    "Which colours stand out?",
    "Is there any text in it?",
    "Describe the left half.",
    "And the right half?",
    "Sum it up in one sentence.",
]


def multi_turn(engine, args) -> dict:
    """A conversation of ``--turns`` turns with one image in the first: TTFT per turn and vision-tower runs."""
    import numpy as np
    from PIL import Image

    from glmv.engine import ChatRequest
    from glmv.messages import user_message

    picture = Path(tempfile.mkdtemp(prefix="glmv-turns-")) / "photo.png"
    pixels = np.random.default_rng(1).integers(0, 255, (args.image_size, args.image_size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(picture)
    runs: list[int] = []
    hook = engine.model.model.visual.register_forward_hook(lambda *_: runs.append(1))
    messages: list[dict] = []
    ttfts, prompts = [], []
    try:
        for turn in range(args.turns):
            question = QUESTIONS[turn % len(QUESTIONS)]
            messages.append(user_message(question, images=[picture]) if turn == 0 else user_message(question))
            request = ChatRequest(
                messages=list(messages), max_tokens=args.turn_tokens, temperature=0, repetition_penalty=1.0
            )
            started, first, content, usage = time.perf_counter(), None, [], None
            for chunk in engine.generate(request):
                if first is None and (chunk.raw or chunk.reasoning or chunk.content):
                    first = time.perf_counter()
                content.append(chunk.content)
                usage = chunk.usage or usage
            ttfts.append((first or time.perf_counter()) - started)
            prompts.append(usage.prompt_tokens)
            messages.append({"role": "assistant", "content": "".join(content) or "…"})
    finally:
        hook.remove()
    return {
        "turns": args.turns,
        "image_size": args.image_size,
        "prompt_tokens": prompts,
        "ttft_s": ttfts,
        "ttft_first_ms": ttfts[0] * 1e3,
        "ttft_last_ms": ttfts[-1] * 1e3,
        "last_over_first": ttfts[-1] / ttfts[0],
        "vision_tower_runs": len(runs),
    }


def worker(args) -> None:
    import torch

    from glmv.engine import LocalEngine

    if args.threads:
        torch.set_num_threads(args.threads)
    with LocalEngine(args.checkpoint, device="cpu", max_batch_size=args.max_batch_size) as engine:
        decode = engine._decode  # both engines detokenise every row through this one function
        engine._decode = lambda ids: decode(ids) or "·" * len(ids)
        engine.chat(_request(PROMPTS[0], 4))  # warm up
        result = {
            "engine_module": sys.modules[type(engine).__module__].__file__,
            "parameters": sum(p.numel() for p in engine.model.parameters()),
            "late_arrivals": late_arrivals(engine, args),
            "batch_one": batch_one(engine, args),
            "multi_turn": multi_turn(engine, args),
        }
    Path(args.worker_out).write_text(json.dumps(result, indent=2) + "\n")


# -- the driver -------------------------------------------------------------------------------------------------


def _median_of(runs: list):
    """The per-field median of several runs' results (nested dicts of numbers; lists and text from the first)."""
    first = runs[0]
    if isinstance(first, dict):
        return {key: _median_of([run[key] for run in runs]) for key in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return statistics.median(runs)
    return first


def checkpoint(size: str, root: Path) -> Path:
    from glmv.testing import tiny_checkpoint

    folder = root / f"{FAMILY}-{size}"
    if not (folder / "config.json").exists():
        print(f"Building a random {size!r} checkpoint in {folder} …", flush=True)
        tiny_checkpoint(FAMILY, folder, size=size)
    return folder


def baseline_tree(ref: str, root: Path) -> Path:
    """The ``src`` folder of ``ref``, unpacked with ``git archive`` (read-only for the repository)."""
    archive = root / "baseline.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(REPO), "archive", ref, "src"], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(root / "baseline", filter="data")
    return root / "baseline" / "src"


def run_worker(source: Path, folder: Path, args, out: Path) -> dict:
    paths = [str(source), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    command = [sys.executable, __file__, "--worker-out", str(out), "--checkpoint", str(folder)]
    for name in ("long", "long_tokens", "arrivals", "tokens", "seed", "decode_tokens", "repeats",
                 "max_batch_size", "threads", "turns", "turn_tokens", "image_size"):  # fmt: skip
        value = getattr(args, name)
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    command += ["--gap", str(args.gap_for[folder.name])]
    subprocess.run(command, env=env, check=True, cwd=out.parent)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["small", "bench"], choices=["small", "bench"])
    parser.add_argument("--baseline-ref", default="HEAD", help="git ref of the engine to compare against")
    parser.add_argument("--source", type=Path, default=REPO / "src", help="the new engine's src folder")
    parser.add_argument("--long", type=int, default=2, help="long requests decoding when the others arrive")
    parser.add_argument("--long-tokens", type=int, default=256)
    parser.add_argument("--arrivals", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32, help="max_tokens of each late arrival")
    parser.add_argument(
        "--gap", type=float, default=None, help="mean seconds between arrivals (default by size)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--turn-tokens", type=int, default=24, help="max_tokens of each turn's reply")
    parser.add_argument("--image-size", type=int, default=448, help="side of the turn-1 image, pixels")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs of each engine (alternating order); medians"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--checkpoints", type=Path, default=None, help="folder to keep the checkpoints in")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for engine_serving.json")
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_out:
        worker(args)
        return

    scratch = Path(tempfile.mkdtemp(prefix="glmv-engine-serving-"))
    folders = {size: checkpoint(size, args.checkpoints or scratch) for size in args.sizes}
    default_gap = {"small": 0.05, "bench": 0.2}
    args.gap_for = {folders[s].name: args.gap or default_gap[s] for s in args.sizes}
    engines = {"new": args.source, "old": baseline_tree(args.baseline_ref, scratch)}
    load_before = os.getloadavg()
    rounds: dict = {}
    for size, folder in folders.items():
        for number in range(
            args.rounds
        ):  # new → old, then old → new, …: drifts of the machine's load hit both
            order = list(engines) if number % 2 == 0 else list(reversed(engines))
            for name in order:
                print(f"Round {number + 1}: the {name} engine on the {size!r} checkpoint …", flush=True)
                out = scratch / f"{size}-{name}-{number}.json"
                rounds.setdefault(size, {}).setdefault(name, []).append(
                    run_worker(engines[name], folder, args, out)
                )
    load_after = os.getloadavg()
    results = {size: {name: _median_of(runs) for name, runs in pair.items()} for size, pair in rounds.items()}

    import torch

    summary = {
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "torch": torch.__version__,
        },
        "family": FAMILY,
        "baseline_ref": args.baseline_ref,
        "max_batch_size": args.max_batch_size,
        "rounds": args.rounds,
        "results": results,
        "every_round": rounds,
    }
    out = args.out / "engine_serving.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")

    print(f"\n{FAMILY}-shaped random checkpoints, CPU float32, load average "
          f"{load_before[0]:.1f} → {load_after[0]:.1f}, max_batch_size {args.max_batch_size}\n")  # fmt: skip
    width = 54
    for size, pair in results.items():
        new, old = pair["new"], pair["old"]
        la_new, la_old = new["late_arrivals"], old["late_arrivals"]
        b_new, b_old = new["batch_one"], old["batch_one"]
        m_new, m_old = new["multi_turn"], old["multi_turn"]
        print(f"{size!r} checkpoint, {new['parameters'] / 1e6:.2f} M parameters: {la_new['long_requests']} × "
              f"{la_new['long_tokens']} tokens, then {la_new['arrivals']} × {la_new['tokens']} tokens "
              f"arriving every {la_new['mean_gap_s']} s on average")  # fmt: skip
        print(f"{'measure':<{width}}{'old':>12}{'new':>12}{'new / old':>12}")
        print("-" * (width + 36))
        rows = [
            ("late arrivals: TTFT p50, ms", la_old["ttft_p50_ms"], la_new["ttft_p50_ms"]),
            ("late arrivals: TTFT p99, ms", la_old["ttft_p99_ms"], la_new["ttft_p99_ms"]),
            ("late arrivals: mean latency, s", la_old["late_latency_mean_s"], la_new["late_latency_mean_s"]),
            ("all requests: output tokens/s", la_old["output_tokens_per_s"], la_new["output_tokens_per_s"]),
            (f"batch 1, {b_new['tokens']} tokens: engine decode tok/s", b_old["engine"]["decode_tokens_per_s"],
             b_new["engine"]["decode_tokens_per_s"]),
            ("batch 1: bare model.generate decode tok/s (same process)", b_old["bare"]["decode_tokens_per_s"],
             b_new["bare"]["decode_tokens_per_s"]),
            ("batch 1: engine / bare generate, decode", b_old["decode_ratio_engine_to_bare"],
             b_new["decode_ratio_engine_to_bare"]),
            (f"{m_new['turns']}-turn chat, image in turn 1: TTFT turn 1, ms", m_old["ttft_first_ms"],
             m_new["ttft_first_ms"]),
            (f"  TTFT turn {m_new['turns']} ({m_new['prompt_tokens'][-1]} prompt tokens), ms", m_old["ttft_last_ms"],
             m_new["ttft_last_ms"]),
            (f"  TTFT turn {m_new['turns']} / turn 1", m_old["last_over_first"], m_new["last_over_first"]),
            ("  vision tower runs over the conversation", m_old["vision_tower_runs"], m_new["vision_tower_runs"]),
        ]  # fmt: skip
        for name, before, after in rows:
            print(f"{name:<{width}}{before:>12.2f}{after:>12.2f}{after / before:>11.2f}×")
        print()
    print(f"Wrote {out}")


if __name__ == "__main__":
    main()
