"""Web UI benchmark: streaming latency in a real browser against the engine alone, and concurrent sessions.

1. **Stream**: a :class:`~glmv.engine.ScriptedEngine` reply of ``--tokens`` (2,000) tokens, the first
   ``--reasoning`` words of them reasoning, paced at ``--rate`` tokens/s by the clock. The same engine is timed called directly (send →
   first chunk with text, send → last chunk) and through the page in headless Chromium (Enter pressed → first
   reasoning token visible in the chat, → last token visible), ``--repeats`` times each; medians are reported.
   Targets: first visible token within 150 ms of the engine's first chunk; the whole stream within 10 % of the
   engine's time.
2. **Sessions**: ``--sessions`` (8) browser contexts at once against a taught tiny GLM-4.6V checkpoint (built
   here, greedy), each asking a taught question; every session must get the taught answer. Reported: the
   slowest and median time to the whole answer, and the same question asked alone.

Run: ``python benchmarks/web.py`` (needs the ``web`` and ``local`` extras and ``/usr/bin/chromium``). Prints a
table and writes ``web.json`` into ``--out DIR`` (default ``~/.cache/glmv/benchmarks``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from glmv.engine import ChatRequest, ScriptedEngine
from glmv.engine.scripted import split_tokens
from glmv.families import get_family
from glmv.testing.serving import free_port
from glmv.web import WebSettings, launch

RESULTS_DIR = Path.home() / ".cache" / "glmv" / "benchmarks"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
FIRST, LAST = "a000", "zend"

WATCH = """([first, last]) => new Promise((resolve) => {
  const chat = document.querySelector('#chat');
  const times = {};
  document.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !times.sent) times.sent = performance.now(); }, true);
  const check = () => {
    const text = chat.textContent;
    if (!times.first && text.includes(first)) times.first = performance.now();
    if (!times.last && text.includes(last)) { times.last = performance.now(); observer.disconnect(); resolve(times); }
  };
  const observer = new MutationObserver(check);
  observer.observe(chat, {subtree: true, childList: true, characterData: true});
})"""


def _reply(tokens: int, reasoning: int) -> str:
    """Raw GLM text of exactly ``tokens`` scripted tokens: ``<think>``, ``reasoning`` words, ``</think>``, words."""
    thought = " ".join([FIRST] + [f"r{i:03d}" for i in range(1, reasoning)])
    head = f"<think>{thought}</think>"
    words = max(0, (tokens - len(split_tokens(head)) - 1) // 2)
    text = head + "".join(f"c{i % 1000:03d} " for i in range(words)) + LAST
    while len(split_tokens(text)) < tokens:
        text = text[: -len(LAST)] + "x " + LAST
    return text


class FixedRateEngine:
    """A :class:`ScriptedEngine` reply paced at ``rate`` tokens/s by the clock: token ``i`` goes out at
    ``start + i / rate`` (a late token does not push the later ones back, as a fixed per-token sleep would when
    the page's work holds the interpreter), so the engine alone and behind the page run at the same rate."""

    family = get_family("glm-4.6v")

    def __init__(self, reply: str, rate: float) -> None:
        self.reply, self.rate = reply, rate
        self.warm: list[str] = []

    def generate(self, request: ChatRequest):
        text = self.warm.pop() if self.warm else self.reply
        start = time.perf_counter()
        for index, chunk in enumerate(ScriptedEngine([text], family=self.family).generate(request)):
            wait = start + index / self.rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            yield chunk


def _engine_alone(reply: str, rate: float) -> dict:
    engine = FixedRateEngine(reply, rate)
    start = time.perf_counter()
    first = None
    for chunk in engine.generate(ChatRequest(messages=[{"role": "user", "content": "Go."}])):
        if first is None and (chunk.reasoning or chunk.content):
            first = time.perf_counter()
    end = time.perf_counter()
    return {"first_ms": (first - start) * 1000, "last_ms": (end - start) * 1000}


def _browser_stream(browser, engine: FixedRateEngine, url: str, question: str) -> dict:
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#message textarea")
    engine.warm.append("<think>Warm.</think>Up.")  # the page's first reply opens its event stream
    page.fill("#message textarea", "Warm up.")
    page.press("#message textarea", "Enter")
    expect(page.locator("#chat")).to_contain_text("Up.")
    watcher = page.evaluate_handle(f"() => {{ window.__timing = ({WATCH})({json.dumps([FIRST, LAST])}); }}")
    watcher.dispose()
    page.fill("#message textarea", question)
    time.sleep(0.3)  # typing, then Enter: the box's own update is done, as when a person sends
    page.press("#message textarea", "Enter")
    times = page.evaluate("async () => await window.__timing")
    context.close()
    return {"first_ms": times["first"] - times["sent"], "last_ms": times["last"] - times["sent"]}


def _stream(args, browser) -> dict:
    reply = _reply(args.tokens, args.reasoning)
    engine = FixedRateEngine(reply, args.rate)
    port = free_port()
    demo = launch(engine, WebSettings(model="scripted"), port=port, block=False, quiet=True)
    try:
        alone = [_engine_alone(reply, args.rate) for _ in range(args.repeats)]
        url = f"http://127.0.0.1:{port}/"
        page = [_browser_stream(browser, engine, url, f"Go {n}.") for n in range(args.repeats)]
    finally:
        demo.close()

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    result = {
        "tokens": len(split_tokens(reply)),
        "rate": args.rate,
        "engine_first_ms": median(alone, "first_ms"),
        "engine_last_ms": median(alone, "last_ms"),
        "browser_first_ms": median(page, "first_ms"),
        "browser_last_ms": median(page, "last_ms"),
        "runs": {"engine": alone, "browser": page},
    }
    result["first_gap_ms"] = result["browser_first_ms"] - result["engine_first_ms"]
    result["last_ratio"] = result["browser_last_ms"] / result["engine_last_ms"]
    result["first_within_150ms"] = result["first_gap_ms"] <= 150
    result["last_within_10pct"] = result["last_ratio"] <= 1.10
    return result


def _sessions(args, browser) -> dict:
    from playwright.sync_api import expect

    from glmv.engine import open_engine
    from glmv.testing import taught_conversations, tiny_checkpoint

    plain = next(conv for conv in taught_conversations("glm-4.6v") if conv.name == "plain")
    question, expected = plain.messages[-1]["content"], "The sum is 42."
    work = Path(tempfile.mkdtemp(prefix="glmv-web-bench-"))
    started = time.perf_counter()
    tiny_checkpoint("glm-4.6v", work / "tiny", teach=True)
    built = time.perf_counter() - started
    engine = open_engine(str(work / "tiny"), device="cpu")
    port = free_port()
    settings = WebSettings(model="tiny glm-4.6v", temperature=0, concurrency=args.sessions)
    demo = launch(engine, settings, port=port, block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        contexts = [browser.new_context() for _ in range(args.sessions + 1)]
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.goto(url)
            page.wait_for_selector("#message textarea")
        alone, crowd = pages[0], pages[1:]
        start = time.perf_counter()
        alone.fill("#message textarea", question)
        alone.press("#message textarea", "Enter")
        expect(alone.locator("#chat")).to_contain_text(expected, timeout=120_000)
        single = time.perf_counter() - start
        start = time.perf_counter()
        for page in crowd:
            page.fill("#message textarea", question)
            page.press("#message textarea", "Enter")
        done = []
        for page in crowd:
            expect(page.locator("#chat")).to_contain_text(expected, timeout=300_000)
            done.append(time.perf_counter() - start)
        answered = sum(expected in page.inner_text("#chat") for page in crowd)
        for context in contexts:
            context.close()
    finally:
        demo.close()
        close = getattr(engine, "close", None)
        if close is not None:
            close()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "sessions": args.sessions,
        "answered": answered,
        "all_complete": answered == args.sessions,
        "alone_s": single,
        "slowest_s": max(done),
        "median_s": statistics.median(done),
        "checkpoint_build_s": built,
    }


def _table(stream: dict, sessions: dict | None) -> str:
    rows = [
        f"Stream of {stream['tokens']} tokens at {stream['rate']:g} tokens/s (medians)",
        f"{'':24} {'first token':>12} {'last token':>12}",
        f"{'engine alone':24} {stream['engine_first_ms']:>9.1f} ms {stream['engine_last_ms']:>9.1f} ms",
        f"{'browser (Chromium)':24} {stream['browser_first_ms']:>9.1f} ms {stream['browser_last_ms']:>9.1f} ms",
        f"{'difference':24} {stream['first_gap_ms']:>+9.1f} ms {100 * (stream['last_ratio'] - 1):>+10.1f} %",
        f"targets: first within 150 ms: {'yes' if stream['first_within_150ms'] else 'NO'}; "
        f"whole stream within 10 %: {'yes' if stream['last_within_10pct'] else 'NO'}",
    ]
    if sessions:
        rows += [
            "",
            f"{sessions['sessions']} browser sessions at once, taught tiny GLM-4.6V on CPU: "
            f"{sessions['answered']}/{sessions['sessions']} answered",
            f"alone {sessions['alone_s']:.2f} s · median {sessions['median_s']:.2f} s · "
            f"slowest {sessions['slowest_s']:.2f} s",
        ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=2000, help="Tokens in the scripted reply.")
    parser.add_argument("--reasoning", type=int, default=100, help="Reasoning words at its start.")
    parser.add_argument("--rate", type=float, default=200.0, help="Tokens per second the engine emits.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of each stream measurement.")
    parser.add_argument("--sessions", type=int, default=8, help="Browser sessions at once (0: skip).")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="Folder for web.json.")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            stream = _stream(args, browser)
            sessions = _sessions(args, browser) if args.sessions else None
        finally:
            browser.close()
    print(_table(stream, sessions))
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "stream": stream,
        "sessions": sessions,
        "hardware": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
    }
    target = args.out / "web.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
