"""``glmv chat``: talk to a GLM-V model from the terminal, one shot (``-p``) or interactively.

Every option maps onto one library keyword: ``-m`` / ``--api`` / ``--api-key`` / ``--device`` / ``--dtype`` onto
:func:`glmv.engine.open_engine`, ``-i`` / ``--video`` / ``--file`` onto :func:`glmv.messages.user_message`,
``--think`` / ``--budget`` / ``--max-tokens`` / ``--temperature`` onto :class:`glmv.engine.ChatRequest`. Replies
stream through :meth:`Engine.generate`; reasoning is shown dimmed (``--hide-thinking`` hides it), the answer is
rendered as markdown, and boxes in an answer are drawn on the last image with :func:`glmv.output.draw_boxes`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glmv.cli import app
from glmv.settings import DEFAULT_MAX_TOKENS, DEFAULT_MODEL

if TYPE_CHECKING:
    from rich.console import Console

    from glmv.engine import ChatRequest, Engine
    from glmv.families import Family
    from glmv.output import Reply

__all__ = ["chat_command"]

HELP = """\
Type a message and press Enter. Commands:
  /image PATH     attach an image to your next message
  /video PATH     attach a video to your next message
  /file PATH      attach a document (PDF, PPTX, …) to your next message
  /think on|off   switch thinking on or off
  /budget N|off   limit thinking to N tokens (off: no limit)
  /clear          forget the conversation
  /save FILE      write the conversation to FILE as JSON
  /help           show this help
  /exit           leave (Ctrl-D works too; Ctrl-C stops a reply)"""


@app.command("chat")
def chat_command(
    prompt: Annotated[
        str | None, typer.Option("-p", "--prompt", help="Ask once and exit (no prompt: interactive).")
    ] = None,
    model: Annotated[str, typer.Option("-m", "--model", help="Hub id or checkpoint folder.")] = DEFAULT_MODEL,
    family: Annotated[
        str | None, typer.Option("--family", help="The GLM-V family, when the model name does not tell it.")
    ] = None,
    image: Annotated[
        list[str] | None, typer.Option("-i", "--image", help="An image path or URL (repeatable).")
    ] = None,
    video: Annotated[
        list[str] | None, typer.Option("--video", help="A video path or URL (repeatable).")
    ] = None,
    file: Annotated[
        list[Path] | None, typer.Option("--file", help="A document: PDF, PPTX, … (repeatable).")
    ] = None,
    system: Annotated[str | None, typer.Option("--system", help="A system prompt.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the reply as one JSON object.")] = False,
    think: Annotated[
        bool | None, typer.Option("--think/--no-think", help="Thinking on or off (default: model's).")
    ] = None,
    budget: Annotated[int | None, typer.Option("--budget", min=0, help="Thinking budget in tokens.")] = None,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="Most tokens per reply.")
    ] = DEFAULT_MAX_TOKENS,
    temperature: Annotated[float | None, typer.Option("--temperature", min=0, help="0 = greedy.")] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="cuda, cpu, auto (default: cuda if present).")
    ] = None,
    dtype: Annotated[
        str | None, typer.Option("--dtype", help="bfloat16, float16, float32 (default: automatic).")
    ] = None,
    api: Annotated[
        str | None, typer.Option("--api", help="An OpenAI-compatible server URL instead of a local model.")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", envvar="GLMV_API_KEY", help="Key for --api.")
    ] = None,
    hide_thinking: Annotated[
        bool, typer.Option("--hide-thinking", help="Do not show the reasoning.")
    ] = False,
) -> None:
    """Chat with a GLM-V model: one question with -p, or a conversation in the terminal."""
    from rich.console import Console

    console = Console(highlight=False)
    engine = _open(model, family, api, api_key, device, dtype)
    session = Session(
        engine=engine,
        family=_family(engine, model),
        settings={
            "max_tokens": max_tokens,
            "temperature": temperature,
            "enable_thinking": think,
            "thinking_budget": budget,
        },
        system=system,
    )
    try:
        if prompt is None:
            Chat(session, console, hide_thinking).loop()
            return
        session.attach(images=image or (), videos=video or (), files=file or ())
        if json_output:
            reply = session.engine.chat(session.ask(prompt))
            session.answered(reply)
            print(json.dumps(reply.to_dict(), ensure_ascii=False))
            return
        if not Chat(session, console, hide_thinking).turn(prompt):
            raise typer.Exit(1)
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()


def _open(
    model: str,
    family: str | None,
    api: str | None,
    api_key: str | None,
    device: str | None,
    dtype: str | None,
) -> Engine:
    from glmv.engine import open_engine

    if api:
        return open_engine(api, model=model, api_key=api_key, family=family)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=_stderr(),
        transient=True,
    ) as bar:
        task = bar.add_task(f"Loading {model}", total=1.0)

        def progress(step: str, fraction: float) -> None:
            bar.update(task, description=step, completed=fraction)

        return open_engine(model, family=family, device=device, dtype=dtype, progress=progress)


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def _family(engine: Any, model: str) -> Family:
    from glmv.errors import FamilyError
    from glmv.families import detect_family

    if getattr(engine, "family", None) is not None:
        return engine.family
    try:
        return detect_family(model)
    except FamilyError:
        fallback = detect_family(DEFAULT_MODEL)
        _stderr().print(
            f"[dim]Cannot tell the family of {model!r}; treating it as {fallback.title} (use --family).[/]"
        )
        return fallback


@dataclass
class Session:
    """The conversation: history in the OpenAI format, media waiting for the next message, request settings."""

    engine: Any
    family: Family
    settings: dict[str, Any]
    system: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[str, list[Any]] = field(default_factory=lambda: {"images": [], "videos": [], "files": []})
    last_image: str | None = None

    def attach(self, images: Any = (), videos: Any = (), files: Any = ()) -> None:
        self.pending["images"].extend(images)
        self.pending["videos"].extend(videos)
        self.pending["files"].extend(files)

    def ask(self, text: str) -> ChatRequest:
        """The request for a new user message (pending media attached); the message joins the history."""
        from glmv.engine import ChatRequest
        from glmv.messages import apply_history_policy, user_message

        message = user_message(text, **self.pending)
        if self.pending["images"]:
            self.last_image = str(self.pending["images"][-1])
        self.pending = {"images": [], "videos": [], "files": []}
        self.messages.append(message)
        system = [{"role": "system", "content": self.system}] if self.system else []
        history = apply_history_policy(system + self.messages, self.family)
        return ChatRequest(messages=history, **self.settings)

    def answered(self, reply: Reply) -> None:
        self.messages.append({"role": "assistant", "content": reply.raw or reply.content})

    def forget_question(self) -> None:
        """Drop the last user message (its reply failed or was stopped)."""
        if self.messages and self.messages[-1]["role"] == "user":
            self.messages.pop()

    def clear(self) -> None:
        self.messages.clear()
        self.pending = {"images": [], "videos": [], "files": []}
        self.last_image = None

    def save(self, path: Path) -> None:
        system = [{"role": "system", "content": self.system}] if self.system else []
        path.write_text(
            json.dumps(system + self.messages, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )


class Chat:
    """The terminal side: streams replies, reads lines, runs slash commands."""

    def __init__(self, session: Session, console: Console, hide_thinking: bool) -> None:
        self.session = session
        self.console = console
        self.hide_thinking = hide_thinking
        self.errors = _stderr()

    def error(self, exc: Exception) -> None:
        self.errors.print(f"[bold red]Error:[/] {exc}", highlight=False)

    def loop(self) -> None:
        family = self.session.family
        self.console.print(f"[bold]glmv chat[/] · {family.title} · /help for commands, /exit to leave")
        while True:
            try:
                line = self.console.input("[bold green]> [/]").strip()
            except EOFError:
                self.console.print()
                return
            except KeyboardInterrupt:
                self.console.print()
                continue
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    return
                continue
            self.turn(line)

    def command(self, line: str) -> bool:
        """Run one slash command; False when the chat should end."""
        from glmv.errors import GlmvError

        name, _, argument = line.partition(" ")
        argument = argument.strip()
        session = self.session
        try:
            if name in ("/exit", "/quit"):
                return False
            if name == "/help":
                self.console.print(HELP, markup=False)
            elif name in ("/image", "/video", "/file") and argument:
                kind = {"/image": "images", "/video": "videos", "/file": "files"}[name]
                if "://" not in argument and not Path(argument).expanduser().exists():
                    self.console.print(f"[red]No such file: {argument}[/]")
                else:
                    session.attach(**{kind: [argument if kind != "files" else Path(argument)]})
                    self.console.print(f"Attached {argument} to your next message.", soft_wrap=True)
            elif name == "/think" and argument in ("on", "off"):
                session.settings["enable_thinking"] = argument == "on"
                self.console.print(f"Thinking {argument}.")
            elif name == "/budget" and (argument.isdigit() or argument in ("off", "none")):
                session.settings["thinking_budget"] = int(argument) if argument.isdigit() else None
                self.console.print(f"Thinking budget: {argument if argument.isdigit() else 'none'}.")
            elif name == "/clear":
                session.clear()
                self.console.print("Conversation cleared.")
            elif name == "/save" and argument:
                path = Path(argument).expanduser()
                session.save(path)
                self.console.print(f"Saved the conversation to {path}.", soft_wrap=True)
            else:
                self.console.print(f"[red]Unknown or incomplete command: {line}[/] (/help lists them)")
        except (GlmvError, OSError) as exc:
            self.error(exc)
        return True

    def turn(self, text: str) -> bool:
        """Ask ``text``, stream the reply, remember it; errors are shown (False) and the conversation goes on."""
        from glmv.engine import collect
        from glmv.errors import GlmvError

        session = self.session
        try:
            request = session.ask(text)
        except GlmvError as exc:
            self.error(exc)
            return False
        chunks: list[Any] = []
        stream = session.engine.generate(request)
        try:
            self._show(stream, chunks)
        except KeyboardInterrupt:
            stream.close()
            self.console.print("\n[yellow](stopped)[/]")
            session.forget_question()
            return False
        except GlmvError as exc:
            self.error(exc)
            session.forget_question()
            return False
        reply = collect(chunks, family=session.family)[0]
        session.answered(reply)
        if reply.finish_reason == "length":
            self.console.print("[yellow](the reply hit --max-tokens)[/]")
        if reply.boxes and session.last_image:
            self._draw(reply)
        return True

    def _show(self, stream: Any, chunks: list[Any]) -> None:
        from rich.live import Live
        from rich.markdown import Markdown

        content = ""
        live: Live | None = None
        try:
            for chunk in stream:
                chunks.append(chunk)
                if chunk.reasoning and not self.hide_thinking and live is None:
                    self.console.print(chunk.reasoning, style="dim", end="", markup=False)
                if chunk.content:
                    if live is None:
                        if not self.hide_thinking and any(c.reasoning for c in chunks):
                            self.console.print()
                        live = Live(console=self.console, auto_refresh=False, vertical_overflow="visible")
                        live.start()
                    content += chunk.content
                    live.update(Markdown(content), refresh=True)
        finally:
            if live is not None:
                live.stop()
                if not self.console.is_terminal:  # Live ends a piped render without its newline
                    self.console.print()
            else:
                self.console.print()

    def _draw(self, reply: Reply) -> None:
        from glmv.media import load_image
        from glmv.output import draw_boxes

        source = self.session.last_image or ""
        stem = Path(source).stem if "://" not in source and not source.startswith("data:") else "image"
        target = Path.cwd() / f"{stem}-boxes.png"
        draw_boxes(load_image(source), reply.boxes).save(target)
        self.console.print(f"Boxes drawn on {target}", soft_wrap=True)  # a path people copy: never wrapped
