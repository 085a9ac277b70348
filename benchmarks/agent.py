"""Agent loop overhead on the browser executor, and action-parser throughput.

Runs :class:`glmv.agent.Agent` on the system Chromium (Playwright, headless, 1280×800) over a local page with 60
interactive elements, driven by a :class:`~glmv.engine.ScriptedEngine` replaying GLM-4.5V web replies (clicks by
set-of-marks label and window scrolls, alternating). Each step's own timings split the time into the engine call
(the scripted model: streaming its reply through the chunk pump) and everything else — screenshot, set-of-marks
labelling, drawing the labels, building the prompt (PNG-encoding the screenshot), parsing, the safety gate, acting,
waiting for the page to settle, and recording the step (trajectory line and the screenshot with the action drawn).
That overhead is the figure to compare with a real model call; the bar is 150 ms per step on this machine. The
CPU time of glmv's own process per step (Chromium works in its own processes) and the load average are printed too:
on a shared machine the wall-clock figures grow with the load.

Then parses a table of real-shaped replies of every dialect with :func:`glmv.actions.parse_action` and
:func:`glmv.agent.read_reply` and reports replies per second.

Run: ``python benchmarks/agent.py`` (``--steps 30 --warmup 3 --parse-rounds 2000``). Writes ``agent.json`` into
``--out DIR`` (default ``~/.cache/glmv/benchmarks``).
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from glmv.actions import parse_action
from glmv.agent import Agent, AgentSettings, Recorder, read_reply
from glmv.agent.executors.browser import BrowserExecutor
from glmv.engine.scripted import ScriptedEngine

B, E = "<|begin_of_box|>", "<|end_of_box|>"

PAGE = (
    "<title>Benchmark</title><style>body{font-family:sans-serif}.row{height:48px}</style>"
    + "<form><input name=q placeholder=Search><button>Go</button></form>"
    + "".join(
        f"<div class=row><a href='#item{i}'>Item {i}</a> <button onclick=\"this.textContent='done {i}'\">Buy {i}</button>"
        f"</div>"
        for i in range(29)
    )
)

REPLIES = [
    (
        "glm-mobile",
        f'Memory: []\nReason: tap\nAction: {B}{{"action_type": "click", "box_2d": [[503,580,718,702]]}}{E}',
    ),
    (
        "glm-mobile",
        f'<think>t</think><answer>Memory: []\nReason: x\nAction: {B}{{"action_type": "input_text", '
        f'"text": "milk", "box_2d": [[0,0,999,99]], "override": true}}{E}</answer>',
    ),
    (
        "glm-pc",
        f"<think>Looking.</think>Open it. {B}left_click(start_box='[512,300]', element_info='OK'){E}\nMemory:\n[]",
    ),
    ("glm-pc", f"<think>t</think>{B}scroll(start_box='[500,500]', direction='down', step=5){E}\nMemory:\n[]"),
    ("glm-pc", f"<think>t</think>{B}type(content='hello world'){E}\nMemory:\n[]"),
    ("glm-web", "<think>t</think>Thought: search\nAction: Type [3]; [blue mug]\nMemory_Updated: {}"),
    ("glm-web", "<think>t</think><answer>Thought: open\nAction: Click [12]\nMemory_Updated: {}</answer>"),
    ("glm-web", "<think>t</think>Thought: done\nAction: ANSWER; <content>42</content>\nMemory_Updated: {}"),
    ("ui-tars", "Thought: Click the button\nAction: click(start_box='(100,200)')"),
    ("ui-tars", "Thought: copy\nAction: hotkey(key='ctrl c')"),
]
_PLATFORM = {"glm-mobile": "mobile", "glm-pc": "desktop", "glm-web": "web"}


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def _web(action: str) -> str:
    return f"<think>Looking at the labels.</think>Thought: next\nAction: {action}\nMemory_Updated: {{}}"


def _loop(url: str, steps: int, warmup: int, record: bool) -> dict:
    replies = [_web("Click [5]" if i % 2 else "Scroll [WINDOW]; [down]") for i in range(steps + warmup)]
    engine = ScriptedEngine(replies, family="glm-4.5v")
    with BrowserExecutor(url) as browser, tempfile.TemporaryDirectory() as folder:
        recorder = Recorder(Path(folder) / "run") if record else None
        agent = Agent(
            engine, browser, "Buy item 3", recorder=recorder, settings=AgentSettings(max_steps=steps + warmup)
        )
        cpu = time.process_time()
        agent.run()
        cpu = time.process_time() - cpu
    timed = agent.records[warmup:]
    overhead = [(r["timing"]["total_s"] - r["timing"]["engine_s"]) * 1000 for r in timed]
    return {
        "record": record,
        "steps": len(timed),
        "overhead_ms_median": statistics.median(overhead),
        "overhead_ms_p90": sorted(overhead)[int(0.9 * (len(overhead) - 1))],
        "engine_ms_median": statistics.median(r["timing"]["engine_s"] * 1000 for r in timed),
        "prompt_ms_median": statistics.median(r["timing"]["prompt_s"] * 1000 for r in timed),
        "act_observe_ms_median": statistics.median(r["timing"]["act_s"] * 1000 for r in timed),
        "marks_median": statistics.median(r["observation"]["marks"] for r in timed),
        "python_cpu_ms_per_step": cpu / (steps + warmup) * 1000,
    }


def _parse_throughput(rounds: int) -> dict:
    started = time.process_time()
    for _ in range(rounds):
        for dialect, reply in REPLIES:
            parse_action(reply, dialect)
    parse_rate = rounds * len(REPLIES) / (time.process_time() - started)
    glm = [(d, r) for d, r in REPLIES if d in _PLATFORM]
    started = time.process_time()
    for _ in range(rounds):
        for dialect, reply in glm:
            read_reply(reply, _PLATFORM[dialect])
    read_rate = rounds * len(glm) / (time.process_time() - started)
    return {"replies": len(REPLIES), "parse_action_per_s": parse_rate, "read_reply_per_s": read_rate}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--steps", type=int, default=30, help="timed steps per loop run")
    options.add_argument("--warmup", type=int, default=3, help="steps run before timing")
    options.add_argument("--parse-rounds", type=int, default=2000, help="passes over the reply table")
    options.add_argument(
        "--out", type=Path, default=Path.home() / ".cache" / "glmv" / "benchmarks", help="folder for the JSON"
    )
    args = options.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        loops = [_loop(url, args.steps, args.warmup, record) for record in (False, True)]
    finally:
        server.shutdown()
    parsing = _parse_throughput(args.parse_rounds)
    print(
        f"Agent loop on the browser executor (headless Chromium 1280×800, {loops[0]['marks_median']:.0f} marks), "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(
        f"{'record':>7} {'steps':>5} {'overhead median':>16} {'p90':>8} {'prompt':>8} {'act+observe':>12} "
        f"{'engine':>8} {'glmv CPU':>9}"
    )
    for loop in loops:
        print(
            f"{'yes' if loop['record'] else 'no':>7} {loop['steps']:>5} {loop['overhead_ms_median']:>13.1f} ms "
            f"{loop['overhead_ms_p90']:>5.1f} ms {loop['prompt_ms_median']:>5.1f} ms {loop['act_observe_ms_median']:>9.1f} ms "
            f"{loop['engine_ms_median']:>5.1f} ms {loop['python_cpu_ms_per_step']:>6.1f} ms"
        )
    print(
        f"parse_action: {parsing['parse_action_per_s']:,.0f} replies/s; read_reply: {parsing['read_reply_per_s']:,.0f} "
        f"replies/s ({parsing['replies']} replies, CPU time)"
    )
    result = {
        "benchmark": "agent",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "loops": loops,
        "parsing": parsing,
        "bar_ms": 150,
        "load_average_1min": os.getloadavg()[0],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "agent.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} CPUs)")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
