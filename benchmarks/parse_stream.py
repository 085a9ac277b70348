"""Streaming-parser throughput and linearity: a long GLM-style output fed in random 1–8-character deltas.

Builds a deterministic GLM-style reply (``<think>`` reasoning, an answer with box spans, points, HTML-ish text
and glm45/glm47 tool calls with long string arguments) of 1,000,000 and 2,000,000 characters, streams each
through :class:`glmv.output.StreamParser`, checks the result equals :func:`glmv.output.parse_reply`, and
prints characters per second (CPU time of the process, best of
``--repeats`` interleaved runs) and the 2M/1M time ratio (linear parsing gives about 2; the bar is 2.4).

Run: ``python benchmarks/parse_stream.py`` (``--sizes 1000000 2000000 --repeats 7``). Writes
``parse_stream.json`` into ``--out DIR`` (default ``~/.cache/glmv/benchmarks``).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

from glmv.output import StreamParser, parse_reply

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "write_file",
            "parameters": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "text": {"type": "string"},
                    "mode": {"type": "integer"},
                },
            },
        },
    }
]

_REASONING = [
    "Let me look at the image carefully. ",
    "The red car is on the left, near <the> tree; its box is about [120, 340, 410, 620]. ",
    "Hmm, 15 + 27 = 42, so the total is 42.\n",
    "我需要再检查一下。 ",
]
_ANSWER = [
    "The car is here: <|begin_of_box|>[[120,340,410,620]]<|end_of_box|>.\n",
    "Point: <|begin_of_box|>(512, 288)<|end_of_box|> and text with < and > signs.\n",
    "The answer is <|begin_of_box|>42<|end_of_box|>.\n",
    "A paragraph of plain answer text that goes on for a while, describing the scene in detail.\n",
]


def _tool_call(rng: random.Random, size: int) -> str:
    body = "".join(rng.choice(_REASONING) for _ in range(max(1, size // 40)))
    newline = "\n" if rng.random() < 0.5 else ""
    return (
        f"<tool_call>write_file{newline}<arg_key>path</arg_key>{newline}<arg_value>/tmp/x.txt</arg_value>{newline}"
        f"<arg_key>text</arg_key>{newline}<arg_value>{body}</arg_value>{newline}"
        f"<arg_key>mode</arg_key><arg_value>{rng.randint(0, 777)}</arg_value></tool_call>"
    )


def glm_text(length: int, seed: int = 0) -> str:
    """A deterministic GLM-style reply of about ``length`` characters (reasoning, answer, tool calls)."""
    rng = random.Random(seed)
    parts = ["<think>"]
    size = 0
    while size < length * 0.4:
        piece = rng.choice(_REASONING)
        parts.append(piece)
        size += len(piece)
    parts.append("</think>\n")
    while size < length * 0.8:
        piece = rng.choice(_ANSWER)
        parts.append(piece)
        size += len(piece)
    while size < length:
        piece = _tool_call(rng, 2000)
        parts.append(piece)
        size += len(piece)
    return "".join(parts)[:length]


def deltas(text: str, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    out = []
    pos = 0
    while pos < len(text):
        step = rng.randint(1, 8)
        out.append(text[pos : pos + step])
        pos += step
    return out


def stream_seconds(pieces: list[str]) -> tuple[float, float, StreamParser]:
    """CPU seconds (of this process: robust on a shared machine) and wall seconds of one streamed parse."""
    parser = StreamParser(tools=TOOLS)
    cpu, wall = time.process_time(), time.perf_counter()
    for piece in pieces:
        parser.feed(piece)
    parser.close()
    return time.process_time() - cpu, time.perf_counter() - wall, parser


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000])
    options.add_argument("--repeats", type=int, default=7)
    options.add_argument(
        "--out", type=Path, default=Path.home() / ".cache" / "glmv" / "benchmarks", help="folder for the JSON"
    )
    args = options.parse_args()

    cases = {size: deltas(glm_text(size)) for size in args.sizes}
    best = {size: (float("inf"), float("inf")) for size in args.sizes}
    parsers = {}
    for _ in range(args.repeats):  # interleaved, best of N: the least disturbed run of each size
        for size, pieces in cases.items():
            cpu, wall, parsers[size] = stream_seconds(pieces)
            best[size] = (min(best[size][0], cpu), min(best[size][1], wall))
    rows = []
    for size, pieces in cases.items():
        text = "".join(pieces)
        reply = parsers[size].reply
        started = time.process_time()
        assert reply == parse_reply(text, tools=TOOLS), "stream and one-shot parse disagree"
        one_shot = time.process_time() - started
        cpu, wall = best[size]
        rows.append(
            {
                "characters": size,
                "deltas": len(pieces),
                "stream_cpu_seconds": round(cpu, 4),
                "stream_wall_seconds": round(wall, 4),
                "chars_per_second": round(size / cpu),
                "one_shot_cpu_seconds": round(one_shot, 4),
                "tool_calls": len(reply.tool_calls),
                "boxes": len(reply.boxes),
                "points": len(reply.points),
            }
        )
    ratio = rows[-1]["stream_cpu_seconds"] / rows[0]["stream_cpu_seconds"] if len(rows) > 1 else None
    size_ratio = rows[-1]["characters"] / rows[0]["characters"] if len(rows) > 1 else None

    print(
        f"{'chars':>10} {'deltas':>8} {'cpu s':>7} {'wall s':>7} {'chars/s':>11} {'one-shot s':>11} {'calls':>6}"
    )
    for row in rows:
        print(
            f"{row['characters']:>10} {row['deltas']:>8} {row['stream_cpu_seconds']:>7.3f} "
            f"{row['stream_wall_seconds']:>7.3f} {row['chars_per_second']:>11,} "
            f"{row['one_shot_cpu_seconds']:>11.3f} {row['tool_calls']:>6}"
        )
    if ratio is not None:
        verdict = "OK" if ratio <= 1.2 * size_ratio else "NOT LINEAR"
        print(
            f"time ratio {rows[-1]['characters']}/{rows[0]['characters']} chars: {ratio:.2f} ({verdict}, bar ≤ 2.4)"
        )

    result = {
        "benchmark": "parse_stream",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "delta_sizes": "random 1-8 characters",
        "timer": "process CPU time, best of the interleaved repeats",
        "repeats": args.repeats,
        "rows": rows,
        "time_ratio": None if ratio is None else round(ratio, 3),
    }
    out = args.out / "parse_stream.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
