"""``glmv chat``: talk to a GLM-V model from the terminal, one shot (``-p``) or interactively.

Every option maps onto one library keyword: ``-m`` / ``--api`` / ``--api-key`` / ``--device`` / ``--dtype`` onto
:func:`glmv.engine.open_engine`; ``-i`` / ``--video`` / ``--file`` onto :meth:`glmv.messages.Conversation.attach`;
``--system``, ``--think`` / ``--budget`` / ``--max-tokens`` / ``--temperature`` onto the
:class:`~glmv.messages.Conversation`'s system prompt and request settings; ``--load`` onto
:meth:`Conversation.load <glmv.messages.Conversation.load>` (``/save`` writes the same format). Attachments are
checked before the model loads, and a bad one in the interactive chat is refused and forgotten, the conversation
kept. Replies stream through :meth:`Engine.generate`; reasoning is shown dimmed (``--hide-thinking`` hides it), the
answer is rendered as markdown, and boxes in an answer are drawn on the last image with
:func:`glmv.output.draw_boxes`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glmv.cli import app
from glmv.cli.engines import ApiKeyOption, ApiOption, DeviceOption, DtypeOption, FamilyOption, open_cli_engine
from glmv.settings import DEFAULT_MAX_TOKENS, DEFAULT_MODEL

if TYPE_CHECKING:
    from rich.console import Console

    from glmv.engine import Engine
    from glmv.families import Family
    from glmv.messages import Attachment, Conversation
    from glmv.output import Reply

__all__ = ["chat_command"]

HELP = """\
Type a message and press Enter. Commands:
  /image PATH     attach an image to your next message
  /video PATH     attach a video to your next message
  /file PATH      attach a document (PDF, PPTX, …) to your next message
  /think on|off   switch thinking on or off
  /budget N|off   limit thinking to N tokens (off: no limit)
  /drop           forget the attachments not sent yet
  /clear          forget the conversation
  /save FILE      write the conversation to FILE (glmv chat --load FILE continues it)
  /help           show this help
  /exit           leave (Ctrl-D works too; Ctrl-C stops a reply)"""


@app.command("chat")
def chat_command(
    prompt: Annotated[
        str | None, typer.Option("-p", "--prompt", help="Ask once and exit (no prompt: interactive).")
    ] = None,
    model: Annotated[str, typer.Option("-m", "--model", help="Hub id or checkpoint folder.")] = DEFAULT_MODEL,
    family: FamilyOption = None,
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
        int | None,
        typer.Option("--max-tokens", min=1, help=f"Most tokens per reply (default: {DEFAULT_MAX_TOKENS})."),
    ] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", min=0, help="0 = greedy.")] = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    hide_thinking: Annotated[
        bool, typer.Option("--hide-thinking", help="Do not show the reasoning.")
    ] = False,
    load: Annotated[
        Path | None,
        typer.Option(
            "--load", help="Continue a conversation saved with /save (options given here override it)."
        ),
    ] = None,
) -> None:
    """Chat with a GLM-V model: one question with -p, or a conversation in the terminal."""
    from rich.console import Console

    console = Console(highlight=False)
    conversation = _conversation(load, model, family, system, max_tokens, temperature, think, budget)
    attached = conversation.attach(images=image or (), videos=video or (), files=file or ())
    engine = open_cli_engine(model, family=family, api=api, api_key=api_key, device=device, dtype=dtype)
    try:
        _follow_engine_family(conversation, engine, model, loaded=load is not None)
        chat = Chat(engine, conversation, console, hide_thinking)
        if prompt is None:
            chat.loop(loaded=load, attached=attached)
            return
        for attachment in attached:
            if attachment.note:
                _stderr().print(
                    f"{attachment.label}: {attachment.note}", style="dim", markup=False, soft_wrap=True
                )
        if json_output:
            from glmv.engine import ChatRequest, chat

            reply = chat(engine, ChatRequest(**conversation.ask(prompt)))
            conversation.answered(reply)
            print(json.dumps(reply.to_dict(), ensure_ascii=False))
            return
        if not chat.turn(prompt):
            raise typer.Exit(1)
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()


def _conversation(
    load: Path | None,
    model: str,
    family: str | None,
    system: str | None,
    max_tokens: int | None,
    temperature: float | None,
    think: bool | None,
    budget: int | None,
) -> Conversation:
    """The conversation to go on with: the loaded one or a new one, with the options given here applied."""
    from glmv.messages import Conversation

    given = {
        "max_tokens": max_tokens,
        "temperature": temperature,
        "enable_thinking": think,
        "thinking_budget": budget,
    }
    if load is None:
        conversation = Conversation(_family_hint(model, family), system=system, settings=given)
        if max_tokens is None:
            conversation.configure(max_tokens=DEFAULT_MAX_TOKENS)
        return conversation
    conversation = Conversation.load(load)
    if system is not None:
        conversation.system = system
    conversation.configure(**{key: value for key, value in given.items() if value is not None})
    return conversation


def _family_hint(model: str, family: str | None) -> Family:
    """The family before the model is opened (it samples videos when they are checked)."""
    from glmv.errors import FamilyError
    from glmv.families import detect_family, get_family

    if family is not None:
        return get_family(family)
    try:
        return detect_family(model)
    except FamilyError:
        return detect_family(DEFAULT_MODEL)


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def _follow_engine_family(conversation: Conversation, engine: Any, model: str, loaded: bool) -> None:
    """Use the model's family for the history policy; say so when it is a guess or differs from a loaded one."""
    from glmv.errors import FamilyError
    from glmv.families import detect_family

    family = getattr(engine, "family", None)
    if family is None:
        try:
            family = detect_family(model)
        except FamilyError:
            if not loaded:
                _stderr().print(
                    f"[dim]Cannot tell the family of {model!r}; treating it as {conversation.family.title} "
                    "(use --family).[/]"
                )
            return
    if loaded and family != conversation.family:
        _stderr().print(
            f"[dim]The conversation was saved with {conversation.family.title}; continuing as {family.title}.[/]"
        )
    conversation.family = family


class Chat:
    """The terminal side: streams replies, reads lines, runs slash commands; the conversation is a
    :class:`glmv.messages.Conversation`."""

    def __init__(
        self, engine: Engine, conversation: Conversation, console: Console, hide_thinking: bool
    ) -> None:
        self.engine = engine
        self.conversation = conversation
        self.console = console
        self.hide_thinking = hide_thinking
        self.errors = _stderr()

    def error(self, exc: BaseException) -> None:
        from rich.markup import escape

        self.errors.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)

    def loop(self, loaded: Path | None = None, attached: Sequence[Attachment] = ()) -> None:
        conversation = self.conversation
        self.console.print(
            f"[bold]glmv chat[/] · {conversation.family.title} · /help for commands, /exit to leave"
        )
        if loaded is not None:
            turns = sum(1 for message in conversation.messages if message.get("role") == "user")
            self.console.print(
                f"Continuing {loaded}: {turns} earlier question(s).", markup=False, soft_wrap=True
            )
        for attachment in attached:
            self._attached(attachment)
        while True:
            try:
                line = self.console.input("[bold green]> [/]").strip()
            except EOFError:
                self.console.print()
                return
            except KeyboardInterrupt:
                self.console.print()
                continue
            except UnicodeDecodeError as exc:
                self.errors.print(
                    f"[bold red]Error:[/] that line is not UTF-8 text ({exc.reason}); type it again."
                )
                continue
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    return
                continue
            self.turn(line)

    def command(self, line: str) -> bool:
        """Run one slash command; False when the chat should end. A failing command is reported, never fatal."""
        from glmv.errors import GlmvError

        name, _, argument = line.partition(" ")
        argument = argument.strip()
        conversation = self.conversation
        try:
            if name in ("/exit", "/quit"):
                return False
            if name == "/help":
                self.console.print(HELP, markup=False)
            elif name in ("/image", "/video", "/file") and argument:
                self._attach(name, argument)
            elif name == "/think" and argument in ("on", "off"):
                conversation.configure(enable_thinking=argument == "on")
                self.console.print(f"Thinking {argument}.")
            elif name == "/budget" and (argument.isdigit() or argument in ("off", "none")):
                conversation.configure(thinking_budget=int(argument) if argument.isdigit() else None)
                self.console.print(f"Thinking budget: {argument if argument.isdigit() else 'none'}.")
            elif name == "/drop":
                conversation.discard_attachments()
                self.console.print("Attachments dropped.")
            elif name == "/clear":
                conversation.clear()
                self.console.print("Conversation cleared.")
            elif name == "/save" and argument:
                path = conversation.save(argument)
                self.console.print(f"Saved the conversation to {path}.", markup=False, soft_wrap=True)
            else:
                self.console.print(f"[red]Unknown or incomplete command: {line}[/] (/help lists them)")
        except (GlmvError, OSError) as exc:
            self.error(exc)
        return True

    def _attach(self, command: str, argument: str) -> None:
        """Attach one medium now; one that cannot be read is refused (and so never sent)."""
        from rich.markup import escape

        from glmv.errors import MediaError

        kind = {"/image": "images", "/video": "videos", "/file": "files"}[command]
        try:
            (attachment,) = self.conversation.attach(**{kind: [argument]})
        except MediaError as exc:
            self.errors.print(
                f"[bold red]Not attached:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            return
        self._attached(attachment)

    def _attached(self, attachment: Attachment) -> None:
        note = f" ({attachment.note})" if attachment.note else ""
        self.console.print(
            f"Attached {attachment.label} to your next message.{note}", markup=False, soft_wrap=True
        )

    def turn(self, text: str) -> bool:
        """Ask ``text``, stream the reply, remember it; errors are shown (False) and the conversation goes on.

        A question whose reply fails is forgotten (its attachments with it), so the next one does not repeat the
        failure.
        """
        from rich.markup import escape

        from glmv.engine import ChatRequest, collect
        from glmv.errors import GlmvError

        conversation = self.conversation
        try:
            request = ChatRequest(**conversation.ask(text))
        except GlmvError as exc:
            self.error(exc)
            conversation.forget_question()
            return False
        chunks: list[Any] = []
        stream = self.engine.generate(request)
        try:
            self._show(stream, chunks)
        except KeyboardInterrupt:
            stream.close()
            self.console.print("\n[yellow](stopped)[/]")
            conversation.forget_question()
            return False
        except GlmvError as exc:
            self.error(exc)
            conversation.forget_question()
            return False
        except Exception as exc:  # the last resort: an engine bug must not end the conversation
            self.errors.print(
                f"[bold red]Error:[/] generation failed unexpectedly ({type(exc).__name__}: {escape(str(exc))}); "
                "the question was dropped and the conversation kept.",
                highlight=False,
                soft_wrap=True,
            )
            conversation.forget_question()
            return False
        reply = collect(chunks, family=conversation.family)[0]
        conversation.answered(reply)
        if reply.finish_reason == "length":
            self.console.print("[yellow](the reply hit --max-tokens)[/]")
        if reply.boxes and conversation.last_image:
            self._draw(reply, conversation.last_image)
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

    def _draw(self, reply: Reply, source: str) -> None:
        from glmv.media import load_image
        from glmv.output import draw_boxes

        stem = Path(source).stem if "://" not in source and not source.startswith("data:") else "image"
        target = Path.cwd() / f"{stem}-boxes.png"
        draw_boxes(load_image(source), reply.boxes).save(target)
        self.console.print(f"Boxes drawn on {target}", soft_wrap=True)  # a path people copy: never wrapped
