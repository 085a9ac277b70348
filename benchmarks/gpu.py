"""LocalEngine on a GPU: a GLM-4.1V-9B-shaped model with random bf16 weights, against the memory-bandwidth limit.

One prepared script, nothing downloaded. It

1. builds a random-weight checkpoint of GLM-4.1V-9B's shape (text: hidden 4096, 40 layers, 32 heads, 2 KV heads,
   head_dim 128, MLP 13696, vocab 151552; vision: depth 24, hidden 1536, 12 heads, merger 13696 — the table in
   ``shared/reference/FORMATS.md``) with ``glmv.testing``'s tiny-checkpoint builder scaled up, on the device,
   in bfloat16, saves it and opens a :class:`~glmv.engine.LocalEngine` on it (static KV cache, the decode step
   compiled with CUDA graphs unless ``--no-compile``), its processor set to the real image pixel limits;
2. measures the device's memory bandwidth with a large device-to-device copy (bytes read + written / seconds,
   best of a few) and the **bandwidth limit** of batch-1 decode: bandwidth / the bytes of weights a decode step
   reads (the text tower and the LM head; the vision tower and the embedding table are not read per token);
3. reports **batch-1 decode** tokens/s (the engine's own decode timing of one greedy request of ``--tokens``
   tokens) and its fraction of that limit (goal: 70 %), **throughput** at 16 and 64 concurrent requests (all
   completion tokens / wall seconds from submitting to the last end) and the **TTFT** of one request holding one
   1920×1080 image (a fresh image: the vision cache cannot help).

Every measured run follows a warm-up of the same shape, so compiling (one graph per batch-size bucket and
attention window; here 1, 16 and 64 rows, all within the first 256 columns) is not timed; the time each phase
took, compiling included, is in the JSON (``phases_s``) and on stderr as it goes.

Run on one GPU: ``python benchmarks/gpu.py`` (``--tokens 128 --out DIR --no-compile --checkpoint DIR``; the
whole script must stay under 10 minutes on one H200). ``--tiny`` runs the same steps on a tiny checkpoint on
the CPU in seconds (``tests/test_benchmark_gpu.py`` runs it). Writes ``gpu.json`` into ``--out DIR`` (default
``~/.cache/glmv/benchmarks``).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

RESULTS_DIR = Path.home() / ".cache" / "glmv" / "benchmarks"
FAMILY = "glm-4.1v-thinking"
IMAGE = (1920, 1080)
PIXELS = {"shortest_edge": 112 * 112, "longest_edge": 28 * 28 * 15000}  # GLM-4.1V's image processor
CONCURRENCY = (16, 64)
TINY_CONCURRENCY = (2, 4)
PROMPTS = [
    "Describe the weather in Paris in spring.",
    "What is 15 + 27? Explain step by step.",
    "Write a short poem about a red square.",
    "List three colours and one thing of each colour.",
    "Count from one to twenty.",
    "What is the capital of France?",
    "Summarise the plot of a film you like.",
    "Explain how a bicycle works.",
]


def nine_b_shape():
    from glmv.testing import TinySize

    return TinySize(
        hidden_size=4096,
        num_layers=40,
        num_heads=32,
        num_kv_heads=2,
        intermediate_size=13696,
        vision_depth=24,
        vision_hidden_size=1536,
        vision_heads=12,
        merger_size=13696,
        vocab_pad_to=151552,
    )


def build(folder: Path, tiny: bool, device: str) -> Path:
    """Write the random checkpoint (bf16, initialised on ``device``) into ``folder``; reuse one already there."""
    import torch

    from glmv.families import get_family
    from glmv.testing import SIZES
    from glmv.testing.checkpoint import build_tiny

    if (folder / "config.json").exists():
        return folder
    shape = SIZES["small"] if tiny else nine_b_shape()
    with torch.device(device):
        model, processor = build_tiny(get_family(FAMILY), shape)
    model = model.to(torch.float32 if tiny else torch.bfloat16)
    processor.image_processor.size = dict(PIXELS)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    config["_name_or_path"] = "random/GLM-4.1V-9B-Thinking"  # how the family is detected
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return folder


def bandwidth(device: str, size: int) -> float:
    """Bytes per second of a ``size``-byte device-to-device copy (read + written), best of five."""
    import torch

    source = torch.empty(size, dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    target.copy_(source)
    best = float("inf")
    for _ in range(5):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        target.copy_(source)
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    del source, target
    return 2 * size / best


def decode_weight_bytes(model) -> int:
    """Bytes of the weights one decode step reads: every text-tower weight but the embedding table, and the head."""
    text = model.model.language_model
    embedding = text.get_input_embeddings().weight
    total = sum(p.numel() * p.element_size() for p in text.parameters() if p is not embedding)
    return total + sum(p.numel() * p.element_size() for p in model.lm_head.parameters())


def request(prompt: str, tokens: int, images=None):
    from glmv.engine import ChatRequest
    from glmv.messages import user_message

    return ChatRequest(
        messages=[user_message(prompt, images=images or [])],
        max_tokens=tokens,
        temperature=0,
        repetition_penalty=1.0,
        enable_thinking=False,
    )


def run_batch(engine, count: int, tokens: int) -> dict:
    """``count`` concurrent greedy requests of ``tokens`` tokens: completion tokens / wall seconds."""
    from glmv.engine import collect

    requests = [request(f"{PROMPTS[i % len(PROMPTS)]} (request {i})", tokens) for i in range(count)]
    start = time.perf_counter()
    generations = engine.start_batch(requests)
    replies = [collect(g, family=engine.family)[0] for g in generations]
    seconds = time.perf_counter() - start
    produced = sum(reply.usage.completion_tokens for reply in replies)
    return {
        "requests": count,
        "tokens_per_request": tokens,
        "completion_tokens": produced,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(produced / seconds, 1),
        "largest_batch": max(g.batch_size for g in generations),
    }


def batch_one(engine, tokens: int) -> dict:
    from glmv.engine import collect

    generation = engine.start(request(PROMPTS[0], tokens))
    reply = collect(generation, family=engine.family)[0]
    timings = generation.timings
    return {
        "tokens": reply.usage.completion_tokens,
        "prompt_tokens": reply.usage.prompt_tokens,
        "tokens_per_s": round(timings["decode_tokens_per_s"], 2),
        "first_token_s": round(timings["first_token_s"], 4),
    }


def image_ttft(engine, folder: Path, seed: int) -> dict:
    """Time to the first token of one request with a fresh random 1920×1080 image."""
    import numpy as np
    from PIL import Image

    from glmv.engine import collect

    path = folder / f"image-{seed}.png"
    pixels = np.random.default_rng(seed).integers(0, 255, (IMAGE[1], IMAGE[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    generation = engine.start(request("What is in this picture?", 1, images=[path]))
    reply = collect(generation, family=engine.family)[0]
    return {
        "width": IMAGE[0],
        "height": IMAGE[1],
        "prompt_tokens": reply.usage.prompt_tokens,
        "first_token_s": round(generation.timings["first_token_s"], 4),
    }


def finished(phases: dict[str, float], name: str, clock: float) -> None:
    """Record how long phase ``name`` took and say so on stderr (a run cut short still shows how far it got)."""
    phases[name] = time.perf_counter() - clock
    print(f"[gpu.py] {name}: {phases[name]:.1f} s", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny checkpoint on the CPU, in seconds")
    parser.add_argument("--tokens", type=int, default=None, help="tokens per request (default 128; tiny 8)")
    parser.add_argument("--no-compile", action="store_true", help="decode without torch.compile")
    parser.add_argument("--checkpoint", type=Path, default=None, help="reuse (or keep) the random checkpoint")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for gpu.json")
    args = parser.parse_args()

    import torch

    from glmv.engine import LocalEngine

    device = "cpu" if args.tiny else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("No CUDA GPU here; run with --tiny for the CPU check.")
    tokens = args.tokens or (8 if args.tiny else 128)
    concurrency = TINY_CONCURRENCY if args.tiny else CONCURRENCY
    compile_step = not args.no_compile and device == "cuda"
    phases: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="glmv-gpu-"))
    clock = time.perf_counter()

    folder = build(args.checkpoint or work / "checkpoint", args.tiny, device)
    finished(phases, "build", clock)
    clock = time.perf_counter()
    engine = LocalEngine(
        folder,
        device=device,
        max_batch_size=max(concurrency),
        kv_cache="static",
        kv_cache_len=4096,
        compile=compile_step,
        prefill_chunk=2048 if not args.tiny else 512,
    )
    finished(phases, "load", clock)
    clock = time.perf_counter()
    rate = bandwidth(device, 2**26 if args.tiny else 2**32)
    weights = decode_weight_bytes(engine.model)
    limit = rate / weights
    finished(phases, "bandwidth", clock)

    warm = min(tokens, 4)  # compiling is per batch-size bucket, not per length: short warm-ups do
    clock = time.perf_counter()
    batch_one(engine, warm)  # warm-up: compiles the batch-1 step
    finished(phases, "warm_batch_1", clock)
    clock = time.perf_counter()
    single = batch_one(engine, tokens)
    single["of_bandwidth_limit"] = round(single["tokens_per_s"] / limit, 3)
    finished(phases, "batch_1", clock)

    concurrent = []
    for count in concurrency:
        clock = time.perf_counter()
        run_batch(engine, count, warm)  # warm-up of the same shape: the buckets it passes through compile
        finished(phases, f"warm_{count}", clock)
        clock = time.perf_counter()
        concurrent.append(run_batch(engine, count, tokens))
        finished(phases, f"concurrent_{count}", clock)

    clock = time.perf_counter()
    image_ttft(engine, work, seed=1)  # warm-up (the vision tower's kernels)
    image = image_ttft(engine, work, seed=2)
    finished(phases, "image", clock)
    kv_note = engine.kv_cache_note
    engine.close()
    shutil.rmtree(work, ignore_errors=True)  # the random checkpoint (20 GB) unless --checkpoint keeps it

    gpu = torch.cuda.get_device_name() if device == "cuda" else None
    result = {
        "hardware": {"device": gpu or platform.processor() or platform.machine(), "torch": torch.__version__},
        "model": {
            "shape": "tiny (glmv.testing 'small')" if args.tiny else "GLM-4.1V-9B (random bf16 weights)",
            "dtype": "float32" if args.tiny else "bfloat16",
            "decode_weight_bytes": weights,
        },
        "compiled": compile_step,
        "kv_cache": kv_note,
        "bandwidth_gb_s": round(rate / 1e9, 1),
        "bandwidth_limit_tokens_per_s": round(limit, 1),
        "batch_1": single,
        "concurrent": concurrent,
        "image_ttft": image,
        "phases_s": {name: round(seconds, 2) for name, seconds in phases.items()},
    }
    print(table(result))
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "gpu.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nWrote {out}")


def table(result: dict) -> str:
    single = result["batch_1"]
    rows = [
        ("device", result["hardware"]["device"]),
        (
            "model",
            f"{result['model']['shape']}, decode reads {result['model']['decode_weight_bytes'] / 1e6:,.1f} MB",
        ),
        ("bandwidth (copy)", f"{result['bandwidth_gb_s']} GB/s"),
        ("batch-1 limit", f"{result['bandwidth_limit_tokens_per_s']} tok/s"),
        (
            f"batch-1 decode ({single['tokens']} tok)",
            f"{single['tokens_per_s']} tok/s = {single['of_bandwidth_limit']:.0%} of the limit",
        ),
    ]
    for run in result["concurrent"]:
        rows.append(
            (
                f"{run['requests']} concurrent × {run['tokens_per_request']} tok",
                f"{run['tokens_per_s']} tok/s (largest batch {run['largest_batch']})",
            )
        )
    image = result["image_ttft"]
    rows.append(
        (
            f"TTFT, one {image['width']}×{image['height']} image",
            f"{image['first_token_s']} s ({image['prompt_tokens']} prompt tokens)",
        )
    )
    rows.append(("compiled decode step", "yes" if result["compiled"] else "no"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


if __name__ == "__main__":
    main()
