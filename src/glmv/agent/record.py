"""The record of an agent run: a folder with ``trajectory.jsonl``, the screenshots and a self-contained
``report.html``.

``trajectory.jsonl`` holds one JSON object a line: first ``{"type": "run", …}`` (task, platform, family, executor,
settings, start time), then one ``{"type": "step", …}`` per step (step number, prompt messages with screenshots
replaced by their file names, raw reply, reasoning, the retry when there was one, the parsed action in thousandths
and in pixels, the clamp note, the gate's decision, the observation after the step, timings, token usage, error),
last ``{"type": "end", …}`` (status, answer, steps, seconds). ``screenshots/step-NNN.png`` is the screen the model
saw at step NNN with the action drawn on it; ``screenshots/final.png`` the screen at the end.

:class:`Recorder` writes a run as it goes (each line is flushed, so a crash keeps the steps done; screenshots are
written by one background thread);
:func:`load_trajectory` reads one back; :func:`write_report` renders ``report.html`` from the folder, every image
embedded, so the file can be mailed or attached to a bug report alone.
"""

from __future__ import annotations

import base64
import html
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from glmv.errors import ConfigError

__all__ = ["Recorder", "Trajectory", "load_trajectory", "write_report"]

TRAJECTORY = "trajectory.jsonl"
REPORT = "report.html"
SCREENSHOTS = "screenshots"


def _strip_media(messages: list[dict[str, Any]], screenshot: str) -> list[dict[str, Any]]:
    """``messages`` with every inline image replaced: the current screenshot (the last image of a desktop GLM-4.5V
    prompt, the first otherwise: the largest) by its file name, history screenshots by a placeholder."""
    stripped: list[dict[str, Any]] = []
    images: list[tuple[int, dict[str, Any]]] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            parts = []
            for part in content:
                if isinstance(part, dict) and part.get("type") == "image_url":
                    url = part.get("image_url", {}).get("url", "")
                    part = {"type": "image_url", "image_url": {"url": "history screenshot (not stored)"}}
                    images.append((len(url), part))
                parts.append(part)
            message = {**message, "content": parts}
        stripped.append(message)
    if images:
        max(images, key=lambda item: item[0])[1]["image_url"] = {"url": screenshot}
    return stripped


class Recorder:
    """Writes one run into ``folder`` (created; an existing trajectory there is refused)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser()
        if (self.folder / TRAJECTORY).exists():
            raise ConfigError(f"{self.folder} already holds a recorded run; choose another --record folder.")
        (self.folder / SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        self._file = (self.folder / TRAJECTORY).open("w", encoding="utf-8")
        self._images = ThreadPoolExecutor(max_workers=1, thread_name_prefix="glmv-record")
        self._pending: list[Future[None]] = []

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._file.flush()

    def start(self, header: dict[str, Any]) -> None:
        self._write({"type": "run", **header})

    def step(
        self, record: dict[str, Any], screenshot: Image.Image | None, messages: list[dict[str, Any]]
    ) -> None:
        """Write one step; ``screenshot`` (what the model saw, action drawn) goes to ``screenshots/step-NNN.png``."""
        name = f"{SCREENSHOTS}/step-{record['step']:03d}.png"
        if screenshot is not None:
            self._save(screenshot, self.folder / name)
        self._write({"type": "step", **record, "screenshot": name, "prompt": _strip_media(messages, name)})

    def finish(self, end: dict[str, Any], screenshot: Image.Image | None) -> Path:
        """Write the end line and the final screenshot, close the file and render ``report.html``."""
        if screenshot is not None:
            self._save(screenshot, self.folder / SCREENSHOTS / "final.png")
        self._write({"type": "end", **end, "screenshot": f"{SCREENSHOTS}/final.png" if screenshot else None})
        self._file.close()
        self._images.shutdown(wait=True)
        for saved in self._pending:
            saved.result()  # a failed save (disk full) is raised here, not lost
        return write_report(self.folder)

    def _save(self, image: Image.Image, path: Path) -> None:
        """Write ``image`` as PNG off the step's critical path (one writer thread; :meth:`finish` waits for it)."""
        self._pending = [saved for saved in self._pending if not saved.done() or saved.exception()]
        self._pending.append(self._images.submit(image.save, path, format="PNG", compress_level=1))


@dataclass
class Trajectory:
    """A recorded run read back: its header, its steps (in order) and its end (None when it was cut off)."""

    folder: Path
    header: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None


def load_trajectory(folder: str | Path) -> Trajectory:
    """The run recorded in ``folder``. Raises :class:`~glmv.errors.ConfigError` when it holds none; unreadable
    lines (a run killed mid-write) are skipped."""
    path = Path(folder).expanduser()
    file = path / TRAJECTORY if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(f"{path} holds no {TRAJECTORY}; give the folder a `glmv agent` run recorded into.")
    header: dict[str, Any] | None = None
    trajectory = Trajectory(file.parent, {})
    for line in file.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        kind = record.get("type") if isinstance(record, dict) else None
        if kind == "run":
            header = record
        elif kind == "step":
            trajectory.steps.append(record)
        elif kind == "end":
            trajectory.end = record
    if header is None:
        raise ConfigError(f"{file} has no run header line; it was not written by `glmv agent`.")
    trajectory.header = header
    return trajectory


def _embedded(folder: Path, name: str | None) -> str:
    if not name or not (folder / name).is_file():
        return ""
    data = base64.b64encode((folder / name).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
.step{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1em 0}
.step img{max-width:100%;border:1px solid #999}
.refused,.failed,.error{border-color:#d32f2f;background:#fff5f5}
pre{white-space:pre-wrap;background:#f5f5f5;padding:.6em;border-radius:4px;font-size:90%}
details summary{cursor:pointer;color:#555}
.meta{color:#555;font-size:90%}"""


def _step_html(folder: Path, step: dict[str, Any]) -> str:
    action = step.get("action") or {}
    observation = step.get("observation") or {}
    gate = step.get("gate") or {}
    status = step.get("status", "")
    lines = [
        f'<section class="step {html.escape(status)}" id="step-{step.get("step")}">',
        f"<h2>Step {step.get('step')}: {html.escape(action.get('raw') or action.get('kind') or status)}</h2>",
        f'<p class="meta">status: {html.escape(status)} · {html.escape(str(step.get("timing", {})))}'
        f" · usage: {html.escape(str(step.get('usage')))}</p>",
    ]
    for label, value in (
        ("Clamped", step.get("clamped")),
        (
            "Gate",
            gate.get("risk") and f"{gate.get('risk')} — {'allowed' if gate.get('allowed') else 'refused'}",
        ),
        ("Error", step.get("error")),
        ("After the step", observation.get("note")),
        ("URL", observation.get("url")),
    ):
        if value:
            lines.append(f"<p><b>{label}:</b> {html.escape(str(value))}</p>")
    lines.append(_embedded(folder, step.get("screenshot")))
    if step.get("reasoning"):
        lines.append(
            f"<details><summary>Reasoning</summary><pre>{html.escape(step['reasoning'])}</pre></details>"
        )
    lines.append(
        f"<details><summary>Reply</summary><pre>{html.escape(step.get('raw') or '')}</pre></details>"
    )
    if step.get("retry"):
        lines.append(
            f"<details><summary>First reply (unreadable)</summary><pre>{html.escape(str(step['retry']))}</pre></details>"
        )
    prompt = json.dumps(step.get("prompt"), ensure_ascii=False, indent=1)
    lines.append(f"<details><summary>Prompt</summary><pre>{html.escape(prompt)}</pre></details>")
    lines.append("</section>")
    return "\n".join(lines)


def write_report(folder: str | Path) -> Path:
    """Render ``report.html`` of the run in ``folder`` (images embedded) and return its path."""
    trajectory = load_trajectory(folder)
    header, end = trajectory.header, trajectory.end or {"status": "cut off (no end line)"}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>glmv agent: {html.escape(str(header.get('task', '')))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(str(header.get('task', '')))}</h1>",
        f'<p class="meta">{html.escape(str(header.get("platform")))} · {html.escape(str(header.get("family")))} · '
        f"{html.escape(str(header.get('executor')))} · started {html.escape(str(header.get('started')))}</p>",
        f"<p><b>Result:</b> {html.escape(str(end.get('status')))} after {len(trajectory.steps)} steps"
        + (f" — answer: {html.escape(str(end['answer']))}" if end.get("answer") else "")
        + "</p>",
    ]
    parts += [_step_html(trajectory.folder, step) for step in trajectory.steps]
    if end.get("screenshot"):
        parts += ["<h2>Final screen</h2>", _embedded(trajectory.folder, end["screenshot"])]
    parts.append("</body></html>")
    path = trajectory.folder / REPORT
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
