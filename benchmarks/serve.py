"""Serving benchmark in the manner of ``vllm bench serve``: a concurrency sweep against an OpenAI-compatible URL.

For each concurrency level, ``--num-prompts`` streaming chat requests (``max_tokens`` each, usage included) are
sent with at most that many in flight. Reported per level: request throughput, output
tokens/s, TTFT (time to the first reasoning or content text) mean / median / P99, TPOT (time per output token
after the first) mean, ITL (gap between text chunks) median / P99. The batching gain is output tokens/s at 16
concurrent clients over 1.

Targets:
- ``--base-url http://127.0.0.1:8000/v1 --model NAME``: any OpenAI-compatible server (vLLM, SGLang, glmv).
  Only loopback addresses unless ``--allow-remote``.
- ``--tiny``: builds a random-weight tiny checkpoint (``--tiny-size bench``, ~50 M parameters, or ``small``) and
  starts ``glmv serve`` on it in a subprocess on a free loopback port, then benchmarks it.

Run: ``python benchmarks/serve.py --tiny`` (``--concurrency 1 4 16 --num-prompts 32 --max-tokens 64 --image``).
Prints a table and writes ``serve.json`` into ``--out DIR`` (default ``~/.cache/glmv/benchmarks``).

``--hostile``: the normal load of ``--hostile-clients`` (16) streaming clients, first alone, then while
``--attackers`` clients send the attacks of issue 9 in a loop (nested JSON, out-of-range seeds, lone surrogates,
typed media tokens, malformed tool-call history, a 1x100000 image, a header-only JPEG, a PNG text-chunk bomb, a NUL
in a path, 16 x 7000x7000 images, a prompt past the context, too many stops, ``response_format``), plus two
sockets that never read their streamed reply (a 4 kB receive buffer, a 3,072-token request: each holds a
batch row while it generates) and two that drip their headers (slowloris). Every normal request has a fixed seed,
so both runs do the same work. The attack loop is bounded
by ``--attack-limit`` requests and by the normal run's end; every address is 127.0.0.1. Prints the normal clients'
TTFT p99 and output throughput with and without attacks, their ratio, and the statuses the attacks got (a 5xx
is a failure). Writes ``serve_hostile.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import itertools
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx

from glmv.errors import GlmvError
from glmv.testing.serving import free_port, wait_until_healthy

RESULTS_DIR = Path.home() / ".cache" / "glmv" / "benchmarks"
PROMPTS = [
    "Describe a quiet harbour at dawn in a few sentences.",
    "List five uses for a paperclip and explain each briefly.",
    "Explain how a bicycle stays upright while moving.",
    "Write a short story about a robot learning to paint.",
]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _image_uri() -> str:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (112, 112), (40, 120, 200)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def _one(client: httpx.AsyncClient, url: str, body: dict) -> dict:
    started = time.perf_counter()
    stamps: list[float] = []
    usage = None
    async with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return {"ok": False, "status": response.status_code, "error": response.text[:200]}
        async for line in response.aiter_lines():
            if not line.startswith("data:") or line.endswith("[DONE]"):
                continue
            payload = json.loads(line[5:])
            if payload.get("usage"):
                usage = payload["usage"]
            for choice in payload.get("choices") or []:
                delta = choice.get("delta") or {}
                if delta.get("content") or delta.get("reasoning") or delta.get("reasoning_content"):
                    stamps.append(time.perf_counter())
    end = time.perf_counter()
    tokens = usage["completion_tokens"] if usage else len(stamps)
    return {
        "ok": True,
        "latency": end - started,
        "ttft": (stamps[0] - started) if stamps else end - started,
        "itl": [b - a for a, b in itertools.pairwise(stamps)],
        "output_tokens": tokens,
        "prompt_tokens": usage["prompt_tokens"] if usage else 0,
    }


async def _level(url: str, headers: dict, bodies: list[dict], concurrency: int) -> dict:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=600, headers=headers, limits=limits) as client:

        async def guarded(body: dict) -> dict:
            async with gate:
                return await _one(client, url, body)

        started = time.perf_counter()
        results = await asyncio.gather(*(guarded(body) for body in bodies))
        duration = time.perf_counter() - started
    done = [r for r in results if r["ok"]]
    ttfts = [r["ttft"] * 1000 for r in done]
    itls = [gap * 1000 for r in done for gap in r["itl"]]
    tpots = [
        (r["latency"] - r["ttft"]) * 1000 / (r["output_tokens"] - 1) for r in done if r["output_tokens"] > 1
    ]
    output = sum(r["output_tokens"] for r in done)
    return {
        "concurrency": concurrency,
        "requests": len(bodies),
        "completed": len(done),
        "failed": len(results) - len(done),
        "errors": sorted({f"{r['status']}: {r['error']}" for r in results if not r["ok"]})[:3],
        "duration_s": duration,
        "request_throughput": len(done) / duration,
        "output_throughput": output / duration,
        "total_output_tokens": output,
        "total_prompt_tokens": sum(r["prompt_tokens"] for r in done),
        "ttft_ms": {
            "mean": statistics.fmean(ttfts),
            "median": _percentile(ttfts, 0.5),
            "p99": _percentile(ttfts, 0.99),
        }
        if ttfts
        else None,
        "tpot_ms_mean": statistics.fmean(tpots) if tpots else None,
        "itl_ms": {"median": _percentile(itls, 0.5), "p99": _percentile(itls, 0.99)} if itls else None,
    }


def _bodies(model: str, count: int, max_tokens: int, image: bool) -> list[dict]:
    bodies = []
    picture = _image_uri() if image else None
    for number in range(count):
        text = PROMPTS[number % len(PROMPTS)]
        content: object = text
        if picture:
            content = [{"type": "image_url", "image_url": {"url": picture}}, {"type": "text", "text": text}]
        bodies.append(
            {
                "model": model,
                "messages": [{"role": "user", "content": content}],
                "max_tokens": max_tokens,
                "temperature": 0.8,
                "seed": number,  # the same token paths in every run, so runs compare the same work
                "stream": True,
                "stream_options": {"include_usage": True},
            }
        )
    return bodies


def _attack_bodies(model: str) -> list[tuple[str, bytes]]:
    """Issue 9's single-request attacks, as raw JSON bodies (some are not valid JSON on purpose)."""
    import base64
    import io
    import struct
    import zlib

    from PIL import Image

    def png(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    def uri(data: bytes, kind: str = "image/png") -> str:
        return f"data:{kind};base64,{base64.b64encode(data).decode()}"

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    def body(content: object, **extra: object) -> bytes:
        message = {"role": "user", "content": content}
        return json.dumps({"model": model, "messages": [message], "max_tokens": 8, **extra}).encode()

    def image(url: str, copies: int = 1) -> bytes:
        return body(
            [{"type": "image_url", "image_url": {"url": url}}] * copies + [{"type": "text", "text": "x"}]
        )

    red = png(Image.new("RGB", (56, 56), "red"))
    bomb = red[:33] + chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * (32 << 20), 9)) + red[33:]
    jpeg = io.BytesIO()
    Image.effect_noise((128, 128), 50).convert("RGB").save(jpeg, format="JPEG")
    header_only = jpeg.getvalue()[: jpeg.getvalue().index(b"\xff\xda") + 2]
    history = {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": "f"}]}
    return [
        ("nested JSON", b'{"messages": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
        ("seed 2**70", body("hi", seed=2**70)),
        ("lone surrogate", b'{"messages": [{"role": "user", "content": "a \\ud800 b"}]}'),
        ("typed <|image|>", body("look <|image|> here")),
        (
            "bad tool_calls",
            json.dumps({"model": model, "messages": [{"role": "user", "content": "x"}, history]}).encode(),
        ),
        ("1x100000 image", image(uri(png(Image.new("L", (1, 100_000)))))),
        ("header-only JPEG", image(uri(header_only, "image/jpeg"))),
        ("PNG text bomb", image(uri(bomb))),
        ("NUL in a path", image("file:///tmp/a\u0000.png")),
        ("16 x 7000x7000", image(uri(png(Image.new("1", (7000, 7000)))), copies=16)),
        ("prompt past the context", body("hello " * 20_000)),
        ("17 stop strings", body("hi", stop=[f"s{i}" for i in range(17)])),
        ("response_format", body("hi", response_format={"type": "json_object"})),
    ]


async def _stuck_reader(port: int, body: bytes) -> None:
    """A client that sends a streaming request and never reads the reply (until cancelled).

    Its receive buffer is 4 kB, so the server's writes soon block and only its write timeout frees the slot.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    _, writer = await asyncio.open_connection(sock=sock)
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
    writer.write(head.encode() + body)
    try:
        await asyncio.sleep(3600)
    finally:
        writer.transport.abort()


async def _slowloris(port: int) -> None:
    """A client that drips header lines, one every 0.5 s, reconnecting when the server hangs up."""
    while True:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            while not writer.transport.is_closing():
                await asyncio.sleep(0.5)
                writer.write(b"X-Drip: 1\r\n")
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()


async def _attack_loop(
    url: str,
    headers: dict,
    attacks: list[tuple[str, bytes]],
    limit: int,
    stop: asyncio.Event,
    statuses: dict[str, dict[str, int]],
) -> None:
    sent = 0
    async with httpx.AsyncClient(
        timeout=60, headers={**headers, "content-type": "application/json"}
    ) as client:
        for name, data in itertools.cycle(attacks):
            if stop.is_set() or sent >= limit:
                return
            sent += 1
            try:
                status = str((await client.post(url, content=data)).status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            statuses.setdefault(name, {}).setdefault(status, 0)
            statuses[name][status] += 1


async def _hostile_level(
    url: str, headers: dict, bodies: list[dict], concurrency: int, attackers: int, limit: int, model: str
) -> tuple[dict, dict]:
    port = urlparse(url).port or 80
    attacks = _attack_bodies(model)
    stuck_body = json.dumps({**bodies[0], "max_tokens": 3072}).encode()  # fits --max-model-len 4096
    stop = asyncio.Event()
    statuses: dict[str, dict[str, int]] = {}
    background = [asyncio.ensure_future(_stuck_reader(port, stuck_body)) for _ in range(2)]
    background += [asyncio.ensure_future(_slowloris(port)) for _ in range(2)]
    loops = [
        asyncio.ensure_future(_attack_loop(url, headers, attacks, limit // max(1, attackers), stop, statuses))
        for _ in range(attackers)
    ]
    try:
        level = await _level(url, headers, bodies, concurrency)
    finally:
        stop.set()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await asyncio.gather(*loops, return_exceptions=True)
    return level, statuses


def _run_hostile(args: argparse.Namespace, base_url: str, model: str) -> dict:
    url = base_url.rstrip("/") + "/chat/completions"
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    asyncio.run(_level(url, headers, _bodies(model, 1, 8, args.image), 1))
    count = args.num_prompts or 4 * args.hostile_clients
    bodies = _bodies(model, count, args.max_tokens, args.image)
    calm = asyncio.run(_level(url, headers, bodies, args.hostile_clients))
    print(f"without attacks: {calm['output_throughput']:.1f} output tok/s", flush=True)
    attacked, statuses = asyncio.run(
        _hostile_level(url, headers, bodies, args.hostile_clients, args.attackers, args.attack_limit, model)
    )
    print(f"with attacks: {attacked['output_throughput']:.1f} output tok/s", flush=True)
    ttft_ratio = (attacked["ttft_ms"] or {}).get("p99", float("nan")) / (calm["ttft_ms"] or {}).get("p99", 1)
    throughput_ratio = (
        calm["output_throughput"] / attacked["output_throughput"]
        if attacked["output_throughput"]
        else float("inf")
    )
    return {
        "without_attacks": calm,
        "with_attacks": attacked,
        "attack_statuses": statuses,
        "ttft_p99_ratio": ttft_ratio,
        "throughput_slowdown": throughput_ratio,
    }


def _hostile_table(result: dict) -> str:
    calm, attacked = result["without_attacks"], result["with_attacks"]
    rows = [
        f"{'normal clients':<24} {'without':>10} {'with attacks':>13} {'ratio':>7}",
        "-" * 57,
        f"{'completed':<24} {calm['completed']:>6}/{calm['requests']:<3} "
        f"{attacked['completed']:>9}/{attacked['requests']:<3}",
        f"{'TTFT p99 (ms)':<24} {calm['ttft_ms']['p99']:>10.1f} {attacked['ttft_ms']['p99']:>13.1f} "
        f"{result['ttft_p99_ratio']:>6.2f}x",
        f"{'output tok/s':<24} {calm['output_throughput']:>10.1f} {attacked['output_throughput']:>13.1f} "
        f"{result['throughput_slowdown']:>6.2f}x",
        "",
        f"{'attack':<26} statuses",
    ]
    for name, seen in result["attack_statuses"].items():
        rows.append(
            f"{name:<26} " + ", ".join(f"{status} x{count}" for status, count in sorted(seen.items()))
        )
    server_errors = [
        n for n, seen in result["attack_statuses"].items() if any(s.startswith("5") for s in seen)
    ]
    rows.append("5xx answers: " + (", ".join(server_errors) if server_errors else "none"))
    return "\n".join(rows)


@contextlib.contextmanager
def _tiny_server(
    family: str, size: str, max_batch_size: int, device: str | None, extra: tuple[str, ...] = ()
) -> Iterator[tuple[str, str]]:
    from glmv.testing import tiny_checkpoint

    with tempfile.TemporaryDirectory(prefix="glmv-bench-") as folder:
        checkpoint = tiny_checkpoint(family, Path(folder) / family, size=size)
        port = free_port()
        command = [sys.executable, "-m", "glmv", "serve", "-m", str(checkpoint), "--port", str(port)]
        command += ["--served-model-name", "tiny", "--max-batch-size", str(max_batch_size)]
        if device:
            command += ["--device", device]
        command += list(extra)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            try:
                wait_until_healthy(f"http://127.0.0.1:{port}", process, timeout=300, interval=0.5)
            except GlmvError as exc:
                raise SystemExit(f"glmv serve did not come up: {exc}") from exc
            yield f"http://127.0.0.1:{port}/v1", "tiny"
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _hardware() -> dict:
    info = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        gpus = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.split("\n")
        info["gpus"] = [g for g in gpus if g.strip()]
    return info


def _table(levels: list[dict]) -> str:
    header = (
        f"{'conc':>5} {'ok/n':>7} {'req/s':>7} {'out tok/s':>10} {'TTFT mean':>10} {'TTFT med':>9} "
        f"{'TTFT p99':>9} {'TPOT':>7} {'ITL med':>8} {'ITL p99':>8}"
    )
    rows = [header, "-" * len(header)]
    for level in levels:
        ttft, itl = level["ttft_ms"] or {}, level["itl_ms"] or {}
        rows.append(
            f"{level['concurrency']:>5} {level['completed']:>3}/{level['requests']:<3} "
            f"{level['request_throughput']:>7.2f} {level['output_throughput']:>10.1f} "
            f"{ttft.get('mean', float('nan')):>10.1f} {ttft.get('median', float('nan')):>9.1f} "
            f"{ttft.get('p99', float('nan')):>9.1f} {level['tpot_ms_mean'] or float('nan'):>7.2f} "
            f"{itl.get('median', float('nan')):>8.2f} {itl.get('p99', float('nan')):>8.2f}"
        )
    return "\n".join(rows) + "\n(times in ms)"


def _run(args: argparse.Namespace, base_url: str, model: str) -> dict:
    url = base_url.rstrip("/") + "/chat/completions"
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    # One warm-up request so model loading and first-call compilation do not count.
    asyncio.run(_level(url, headers, _bodies(model, 1, 8, args.image), 1))
    levels = []
    for concurrency in args.concurrency:
        count = args.num_prompts or max(8, 4 * concurrency)
        level = asyncio.run(
            _level(url, headers, _bodies(model, count, args.max_tokens, args.image), concurrency)
        )
        levels.append(level)
        print(f"concurrency {concurrency}: {level['output_throughput']:.1f} output tok/s", flush=True)
    by_level = {level["concurrency"]: level for level in levels}
    gain = None
    if 1 in by_level and 16 in by_level and by_level[1]["output_throughput"]:
        gain = by_level[16]["output_throughput"] / by_level[1]["output_throughput"]
    return {"levels": levels, "batching_gain_16_vs_1": gain}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-url", help="An OpenAI-compatible base URL ending in /v1.")
    parser.add_argument("--model", help="The model id to request (default: the server's first model).")
    parser.add_argument("--api-key", default=os.environ.get("GLMV_API_KEY"))
    parser.add_argument("--allow-remote", action="store_true", help="Allow a non-loopback --base-url.")
    parser.add_argument(
        "--tiny", action="store_true", help="Start glmv serve on a tiny checkpoint and use it."
    )
    parser.add_argument("--tiny-family", default="glm-4.6v-flash")
    parser.add_argument("--tiny-size", default="bench", choices=["small", "bench"])
    parser.add_argument(
        "--max-batch-size",
        type=int,
        help="--tiny: the LocalEngine batch size (default 16; with --hostile twice --hostile-clients, the headroom "
        "a deployment keeps over its normal load, so the stuck sockets do not take normal clients' rows).",
    )
    parser.add_argument("--device", help="--tiny: cpu or cuda (default: cuda when there is one).")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument(
        "--num-prompts", type=int, help="Requests per level (default: max(8, 4 × concurrency))."
    )
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--image", action="store_true", help="Send a 112×112 image with every prompt.")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="Folder for serve.json.")
    parser.add_argument("--hostile", action="store_true", help="Normal load with and without attackers.")
    parser.add_argument(
        "--hostile-clients", type=int, default=16, help="--hostile: normal streaming clients."
    )
    parser.add_argument(
        "--attackers", type=int, default=4, help="--hostile: clients sending attacks in a loop."
    )
    parser.add_argument("--attack-limit", type=int, default=400, help="--hostile: attack requests at most.")
    args = parser.parse_args()

    if args.tiny == bool(args.base_url):
        parser.error("give exactly one of --tiny and --base-url")
    if args.base_url and not (_is_loopback(args.base_url) or args.allow_remote):
        parser.error(f"{args.base_url} is not a loopback address; add --allow-remote to benchmark it")

    run = _run_hostile if args.hostile else _run
    if args.max_batch_size is None:
        args.max_batch_size = 2 * args.hostile_clients if args.hostile else 16
    if args.tiny:
        extra = ("--max-model-len", "4096", "--write-timeout", "5") if args.hostile else ()
        with _tiny_server(args.tiny_family, args.tiny_size, args.max_batch_size, args.device, extra) as (
            url,
            model,
        ):
            result = run(args, url, model)
        target = {
            "kind": "tiny",
            "family": args.tiny_family,
            "size": args.tiny_size,
            "max_batch_size": args.max_batch_size,
            "device": args.device or "auto",
        }
    else:
        model = args.model
        if model is None:
            headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
            model = httpx.get(args.base_url.rstrip("/") + "/models", headers=headers, timeout=30).json()[
                "data"
            ][0]["id"]
        result = run(args, args.base_url, model)
        target = {"kind": "url", "base_url": args.base_url, "model": model}

    if args.hostile:
        report = {"benchmark": "serve_hostile", "target": target, "hardware": _hardware(), **result}
        print(_hostile_table(result))
        out = args.out / "serve_hostile.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}")
        return
    report = {
        "benchmark": "serve",
        "target": target,
        "settings": {
            "max_tokens": args.max_tokens,
            "image": args.image,
            "num_prompts": args.num_prompts,
            "concurrency": args.concurrency,
        },
        "hardware": _hardware(),
        **result,
    }
    print(_table(result["levels"]))
    if result["batching_gain_16_vs_1"]:
        print(f"batching gain (output tok/s at 16 concurrent / at 1): {result['batching_gain_16_vs_1']:.2f}x")
    out = args.out / "serve.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
