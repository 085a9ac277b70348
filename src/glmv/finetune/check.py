"""Checking samples before they train: what would break training, and what would silently train a worse model.

:func:`sample_problems` looks at one sample alone, without rendering it: roles out of order, a conversation
that does not end in a reply, empty replies, replies without reasoning on a family that always reasons, tool
calls on a family without tools, images in tool results on a family whose template cannot show them, media
placeholder tokens typed as text, media that are missing or unreadable, more than one video.
:func:`check` adds what needs the whole set or the rendered text: the length in tokens (media tokens from
:mod:`glmv.media`, text through the tokenizer or an estimate) against ``max_length``, and duplicates. Each
finding is a :class:`~glmv.finetune.Problem`; ``fatal`` ones would break training (the sample cannot be used
as it is); the others are warnings. :func:`length_histogram` draws the lengths as a PNG (matplotlib, Agg).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from glmv.errors import GlmvError, require
from glmv.families import Family, get_family
from glmv.finetune.media import measure
from glmv.finetune.render import Rendered, render, template_media
from glmv.finetune.sample import Problem, Sample
from glmv.finetune.tokens import PixelLimits, TokenCounter
from glmv.messages import check_text

__all__ = ["CheckReport", "check", "length_histogram", "sample_problems"]


def _problem(sample: Sample, code: str, message: str, fatal: bool = True) -> Problem:
    return Problem(sample.id, sample.where, code, message, fatal)


def _role_problems(sample: Sample) -> list[Problem]:
    roles = [m["role"] for m in sample.messages]
    found = []
    if "system" in roles[1:]:
        found.append(_problem(sample, "roles", "a system message after the first message"))
    turns = [m for m in sample.messages if m["role"] != "system"]
    if not turns or turns[0]["role"] != "user":
        found.append(_problem(sample, "roles", "the conversation must start with a user message"))
    previous = None
    for message in turns:
        role = message["role"]
        if role == "assistant" and previous == "assistant":
            found.append(_problem(sample, "roles", "two assistant messages in a row"))
        elif role == "user" and previous == "user":
            found.append(_problem(sample, "roles", "two user messages in a row"))
        elif role == "tool" and previous not in ("tool", "assistant-calls"):
            found.append(_problem(sample, "roles", "a tool result that answers no tool call"))
        elif role == "user" and previous == "assistant-calls":
            found.append(_problem(sample, "roles", "a tool call without its result"))
        previous = "assistant-calls" if role == "assistant" and message["tool_calls"] else role
    if turns and turns[-1]["role"] != "assistant":
        found.append(
            _problem(sample, "roles", "the conversation does not end with an assistant reply to train on")
        )
    return found


def _reply_problems(sample: Sample, family: Family) -> list[Problem]:
    found = []
    last_user = max((i for i, m in enumerate(sample.messages) if m["role"] == "user"), default=-1)
    for index, message in enumerate(sample.messages):
        if message["role"] != "assistant":
            continue
        if not message["content"].strip() and not message["tool_calls"]:
            what = "only reasoning" if message["reasoning_content"] else "nothing"
            found.append(_problem(sample, "empty-reply", f"messages[{index}]: the reply holds {what}"))
        if message["tool_calls"] and not family.tool_calls:
            found.append(_problem(sample, "tools", f"messages[{index}]: {family.title} does not call tools"))
        if index > last_user and family.thinking == "always" and not message["reasoning_content"].strip():
            found.append(
                _problem(
                    sample,
                    "no-reasoning",
                    f"messages[{index}]: no reasoning; {family.title} always reasons, so it would learn an "
                    "empty <think></think>",
                    fatal=False,
                )
            )
    return found


def _text_problems(sample: Sample) -> list[Problem]:
    found = []
    for index, message in enumerate(sample.messages):
        content = message.get("content")
        texts = [content] if isinstance(content, str) else [p.get("text", "") for p in content or []]
        for text in texts:
            try:
                check_text(text, f"messages[{index}]")
            except GlmvError as exc:
                found.append(_problem(sample, "placeholder-text", str(exc).split(". ")[0]))
    return found


def _media_problems(sample: Sample, family: Family, limits: PixelLimits | None) -> list[Problem]:
    found = []
    shown = template_media(sample, family)
    if len(shown) != len(sample.media()):
        found.append(
            _problem(sample, "tool-media", f"{family.title}'s template does not show images in tool results")
        )
    videos = 0
    for kind, url in shown:
        videos += kind == "video"
        measured = measure(kind, url, family, limits)
        if measured.error:
            found.append(_problem(sample, "missing-media", f"{kind} {url}: {measured.error}"))
    if videos > 1:
        found.append(
            _problem(sample, "videos", f"{videos} videos; GLM-V takes one video per prompt", fatal=False)
        )
    return found


def sample_problems(sample: Sample, family: Family | str, limits: PixelLimits | None = None) -> list[Problem]:
    """Every problem of ``sample`` that shows without rendering it (see the module docstring); media are
    measured within the processor's pixel ``limits``."""
    family = get_family(family)
    return [
        *_role_problems(sample),
        *_reply_problems(sample, family),
        *_text_problems(sample),
        *_media_problems(sample, family, limits),
    ]


@dataclass
class CheckReport:
    """What :func:`check` found: the samples checked, their problems and their lengths in tokens."""

    samples: int = 0
    problems: list[Problem] = field(default_factory=list)
    lengths: dict[str, int] = field(default_factory=dict)
    estimated: bool = True
    max_length: int | None = None

    @property
    def fatal(self) -> list[Problem]:
        return [p for p in self.problems if p.fatal]

    @property
    def ok(self) -> bool:
        """Whether nothing would break training."""
        return not self.fatal


def _fingerprint(rendered: Rendered) -> str:
    """The same training text with the same media files is a duplicate."""
    digest = hashlib.sha256()
    for segment in rendered.segments:
        digest.update(segment.text.encode("utf-8", "surrogatepass") + b"\0")
    for _kind, url in rendered.sample.media():
        digest.update(url.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def check(
    samples: Iterable[Sample | Problem],
    family: Family | str,
    *,
    max_length: int | None = None,
    counter: TokenCounter | None = None,
) -> CheckReport:
    """Check ``samples`` for ``family`` (problems met while reading them are passed through)."""
    family = get_family(family)
    counter = counter or TokenCounter()
    report = CheckReport(estimated=counter.estimated, max_length=max_length)
    seen: dict[str, str] = {}
    for sample in samples:
        if isinstance(sample, Problem):
            report.problems.append(sample)
            continue
        report.samples += 1
        found = sample_problems(sample, family, counter.limits)
        report.problems += found
        if any(p.code in ("roles", "missing-media") for p in found):
            continue
        try:
            rendered = render(sample, family, counter=counter, labels=False)
        except GlmvError as exc:
            report.problems.append(_problem(sample, "template", str(exc)))
            continue
        report.lengths[sample.id] = rendered.tokens
        if max_length is not None and rendered.tokens > max_length:
            how = "estimated " if counter.estimated else ""
            report.problems.append(
                _problem(sample, "too-long", f"{rendered.tokens} {how}tokens, over --max-length {max_length}")
            )
        key = _fingerprint(rendered)
        if key in seen:
            report.problems.append(
                _problem(sample, "duplicate", f"the same conversation as {seen[key]}", fatal=False)
            )
        else:
            seen[key] = sample.where
    return report


def length_histogram(lengths: Iterable[int], path: str | Path, max_length: int | None = None) -> Path:
    """Draw a histogram of sample lengths in tokens into the PNG file ``path`` (a line at ``max_length``)."""
    require("matplotlib", extra="data", purpose="the length histogram of glmv data check")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    values = list(lengths)
    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.subplots()
    axes.hist(values or [0], bins=min(50, max(5, len(values) // 4 or 5)), color="#4472c4")
    if max_length is not None:
        axes.axvline(max_length, color="#c00000", linestyle="--", label=f"--max-length {max_length}")
        axes.legend()
    axes.set_xlabel("tokens per sample (media included)")
    axes.set_ylabel("samples")
    axes.set_title(f"{len(values)} samples")
    path = Path(path)
    figure.savefig(path)
    return path
