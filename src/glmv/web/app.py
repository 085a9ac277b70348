"""``create_app(engine, settings)``: the Gradio page over any :class:`~glmv.engine.Engine`.

Layout and event wiring only: the conversation lives in :class:`glmv.messages.Conversation` (one per browser
session, :mod:`glmv.web.session`), replies stream through :func:`glmv.web.streaming.stream_reply`, uploads are
checked by :mod:`glmv.web.uploads`, and what is shown comes from :mod:`glmv.web.view`. Nothing happens at import
time; the Blocks are built when :func:`create_app` is called.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from glmv.web.settings import WebSettings

if TYPE_CHECKING:
    from glmv.engine import Engine
    from glmv.families import Family
    from glmv.media import MediaPolicy

__all__ = ["create_app", "engine_family", "thinking_switch"]

LATEX = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "\\[", "right": "\\]", "display": True},
    {"left": "\\(", "right": "\\)", "display": False},
    {"left": "$", "right": "$", "display": False},
]


def engine_family(engine: "Engine", settings: WebSettings) -> "Family":
    """The family the page works with: the settings', else the engine's, else guessed from the model name."""
    from glmv.errors import FamilyError
    from glmv.families import detect_family, get_family
    from glmv.settings import DEFAULT_MODEL

    if settings.family is not None:
        return get_family(settings.family)
    family = getattr(engine, "family", None)
    if family is not None:
        return get_family(family)
    try:
        return detect_family(settings.model or DEFAULT_MODEL)
    except FamilyError:
        return detect_family(DEFAULT_MODEL)


def thinking_switch(family: "Family") -> tuple[bool, bool, str]:
    """``(value, interactive, info)`` of the thinking checkbox for ``family``."""
    if family.can_switch_thinking:
        return True, True, f"{family.title} can answer with or without thinking first."
    if family.thinking == "always":
        return True, False, f"{family.title} always thinks: its chat template has no switch to turn it off."
    return False, False, f"{family.title} does not think before answering."


def _policy(engine: "Engine", settings: WebSettings) -> "MediaPolicy":
    from glmv.media import MediaPolicy

    if settings.policy is not None:
        return settings.policy
    return getattr(engine, "media_policy", None) or MediaPolicy.strict()


class _Page:
    """The callbacks of one app: each takes the controls, works on the caller's session, returns the outputs."""

    def __init__(self, engine: "Engine", settings: WebSettings) -> None:
        from glmv.web.session import Sessions

        self.engine = engine
        self.settings = settings
        self.family = engine_family(engine, settings)
        self.policy = _policy(engine, settings)
        self.sessions = Sessions(self._conversation, document_tokens=settings.document_tokens)

    def _conversation(self, folder: Path):
        from glmv.messages import Conversation

        policy = self.policy.replace(allowed_local_dir=folder, allow_local_paths=True)
        return Conversation(self.family, system=self.settings.system, policy=policy)

    def session(self, request: gr.Request):
        return self.sessions.get(request.session_hash or "anonymous")

    # ---- outputs ---------------------------------------------------------------------------------------------

    def chat(self, session) -> list[dict[str, Any]]:
        from glmv.web.view import chat_messages

        return chat_messages(session.turns)[0]

    def panels(self, session) -> tuple[Any, ...]:
        """The grounding panel (shown when the last reply has boxes), its picture and coordinates; the HTML panel
        (shown when the last reply holds a page), its preview, its source and its download file."""
        from glmv.errors import GlmvError
        from glmv.web.view import grounding, html_preview, html_source

        reply = session.last_reply
        try:
            picture, coordinates = grounding(
                reply, session.conversation, session.folder, session.conversation.policy
            )
        except GlmvError as exc:
            picture, coordinates = None, f"The boxes cannot be drawn: {exc}"
        boxes = (gr.Accordion(visible=bool(coordinates)), picture, coordinates)
        source = html_source(reply.content) if reply is not None else None
        if source is None:
            return (*boxes, gr.Accordion(visible=False), "", gr.Code(value=""), None)
        page = session.folder / f"answer-{len(session.turns)}.html"
        page.write_text(source, encoding="utf-8")
        return (*boxes, gr.Accordion(visible=True), html_preview(source), gr.Code(value=source), str(page))

    def streaming(self, session) -> tuple[Any, ...]:
        return (self.chat(session), *_skip(8))

    def finished(self, session) -> tuple[Any, ...]:
        return (self.chat(session), gr.MultimodalTextbox(value=None, interactive=True), *self.panels(session))

    # ---- turns -----------------------------------------------------------------------------------------------

    def configure(self, session, thinking, budget, max_tokens, temperature, top_p, system) -> None:
        conversation = session.conversation
        conversation.system = system.strip() if system and system.strip() else None
        settings: dict[str, Any] = {
            "max_tokens": int(max_tokens),
            "temperature": float(temperature),
            "top_p": float(top_p),
            "thinking_budget": int(budget) if budget else None,
        }
        if self.family.can_switch_thinking:
            settings["enable_thinking"] = bool(thinking)
        conversation.configure(**settings)

    def run(self, session, turn, request_keywords: dict[str, Any]):
        """Stream one reply into ``turn`` and store it (or forget the question when it failed)."""
        from glmv.engine import ChatRequest
        from glmv.web.streaming import stream_reply

        conversation = session.conversation
        updates = stream_reply(
            self.engine,
            ChatRequest(**request_keywords),
            turn,
            session.new_stop(),
            self.family,
            self.settings.stream_interval,
        )
        first = True
        for _ in updates:
            if not any(shown is turn for shown in session.turns):
                continue  # cleared while it streams: the page shows what came after, the box is the user's
            if first:  # the question shows with the first text (or soon without): one redraw, not two
                first = False
                yield (self.chat(session), gr.MultimodalTextbox(value=None, interactive=False), *_skip(7))
            else:
                yield self.streaming(session)
        if not any(shown is turn for shown in session.turns):
            turn.message_index = None  # the conversation went on without it; what the user types stays
            yield _skip()
            return
        if turn.reply is not None and turn.status in ("done", "stopped"):
            conversation.answered(turn.reply)
        else:
            conversation.forget_question()
            turn.message_index = None
        yield self.finished(session)

    def send(self, message, thinking, budget, max_tokens, temperature, top_p, system, request: gr.Request):
        from glmv.errors import GlmvError, MediaError
        from glmv.web.session import Turn
        from glmv.web.uploads import accept_upload, attach_uploads, describe_attachment

        session = self.session(request)
        message = message or {}
        text = (message.get("text") or "").strip()
        files = [item["path"] if isinstance(item, dict) else item for item in message.get("files") or []]
        if not text and not files:
            yield _skip()
            return
        turn = Turn(text)
        with session.lock:
            # a second Enter before the page disabled the box: the same question goes once
            if session.streaming and session.turns[-1].text == text:
                yield _skip()
                return
            session.turns.append(turn)
            conversation = session.conversation
            try:
                self.configure(session, thinking, budget, max_tokens, temperature, top_p, system)
                if len(files) > self.settings.max_files:
                    raise MediaError(
                        f"{len(files)} files in one message is over the limit of {self.settings.max_files}; "
                        "send them over several messages."
                    )
                uploads = [
                    accept_upload(path, session.folder, self.settings.max_upload_bytes) for path in files
                ]
                attachments = attach_uploads(conversation, uploads, session.documents)
                turn.uploads = uploads
                for upload, attachment in zip(uploads, attachments, strict=True):
                    line = describe_attachment(upload, attachment, self.family, conversation.policy)
                    turn.notes.append(f"{upload.name}: {line}")
                keywords = conversation.ask(text)
            except GlmvError as exc:
                conversation.discard_attachments()
                turn.status, turn.error = "failed", f"{exc} The conversation is kept; try again."
                yield self.finished(session)
                return
            turn.message_index = len(conversation.messages) - 1
        yield from self.run(session, turn, keywords)

    def regenerate(self, thinking, budget, max_tokens, temperature, top_p, system, request: gr.Request):
        from glmv.web.session import Turn

        session = self.session(request)
        sent = [turn for turn in session.turns if turn.message_index is not None]
        if not sent or session.streaming:
            yield _skip()
            return
        last = sent[-1]
        conversation = session.conversation
        del conversation.messages[last.message_index + 1 :]
        session.turns = session.turns[: session.turns.index(last)]
        turn = Turn(last.text, last.uploads, last.notes, message_index=last.message_index)
        session.turns.append(turn)
        self.configure(session, thinking, budget, max_tokens, temperature, top_p, system)
        yield from self.run(session, turn, conversation.request())

    def edit(
        self,
        thinking,
        budget,
        max_tokens,
        temperature,
        top_p,
        system,
        edited: gr.EditData,
        request: gr.Request,
    ):
        from glmv.messages import text_part
        from glmv.web.session import Turn
        from glmv.web.view import chat_messages

        session = self.session(request)
        owners = chat_messages(session.turns)[1]
        index = edited.index if isinstance(edited.index, int) else edited.index[0]
        if index >= len(owners):
            yield (self.chat(session), *_skip(8))
            return
        old = session.turns[owners[index]]
        text = edited.value if isinstance(edited.value, str) else _edited_text(edited.value)
        conversation = session.conversation
        if old.message_index is None or not text.strip() or session.streaming:
            yield (self.chat(session), *_skip(8))
            return
        del conversation.messages[old.message_index + 1 :]
        question = conversation.messages[old.message_index]
        content = question["content"]
        parts = [part for part in content if part.get("type") != "text"] if isinstance(content, list) else []
        question["content"] = [*parts, text_part(text.strip())] if parts else text.strip()
        session.turns = session.turns[: owners[index]]
        turn = Turn(text.strip(), old.uploads, old.notes, message_index=old.message_index)
        session.turns.append(turn)
        self.configure(session, thinking, budget, max_tokens, temperature, top_p, system)
        yield from self.run(session, turn, conversation.request())

    def stop(self, request: gr.Request) -> None:
        self.session(request).stop.set()

    def clear(self, request: gr.Request):
        session = self.session(request)
        session.stop.set()
        session.clear()
        hidden = gr.Accordion(visible=False)
        return (
            [],
            gr.MultimodalTextbox(value=None, interactive=True),
            hidden,
            None,
            "",
            hidden,
            "",
            gr.Code(value=""),
            None,
        )

    def export_json(self, request: gr.Request) -> str:
        from glmv.web.export import export_json

        session = self.session(request)
        return str(export_json(session.conversation, session.folder))

    def export_markdown(self, request: gr.Request) -> str:
        from glmv.web.export import export_markdown

        session = self.session(request)
        return str(export_markdown(session.conversation, session.folder))

    def price(self, message, request: gr.Request) -> str:
        """What the files waiting in the message box will cost, before they are sent."""
        from glmv.web.uploads import describe_pending

        files = [
            item["path"] if isinstance(item, dict) else item for item in (message or {}).get("files") or []
        ]
        return describe_pending(files, self.family, self.policy, self.session(request).documents)

    def close(self, request: gr.Request) -> None:
        self.sessions.close(request.session_hash or "anonymous")


def _skip(count: int = 9) -> tuple[Any, ...]:
    """``count`` unchanged outputs (a turn has 9: chat, box, grounding panel and 2, HTML panel and 3)."""
    return tuple(gr.skip() for _ in range(count))


def _edited_text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(item for item in value if isinstance(item, str))
    return str(value or "")


def create_app(engine: "Engine", settings: WebSettings | None = None) -> gr.Blocks:
    """The chat page over ``engine`` as Gradio Blocks: launch it, or mount it in a FastAPI app
    (``gradio.mount_gradio_app``; :func:`glmv.web.mount_app` does it with glmv's limits)."""
    settings = settings or WebSettings()
    page = _Page(engine, settings)
    family = page.family
    think_value, think_interactive, think_info = thinking_switch(family)
    controls_help = (
        f"**{family.title}** · thinking {family.thinking} · "
        f"{'tool calls · ' if family.tool_calls else ''}context {family.context_length:,} tokens"
    )
    if settings.document_tokens is not None:
        controls_help += f" · documents up to {settings.document_tokens:,} image tokens each"
    with gr.Blocks(title=settings.title, fill_height=True, delete_cache=(3600, 86400)) as demo:
        demo.glmv_page = page  # type: ignore[attr-defined]  # lets tests and embedders reach the sessions
        gr.Markdown(f"### {settings.title}" + (f" · `{settings.model}`" if settings.model else ""))
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat",
                    elem_id="chat",
                    height=560,
                    editable="user",
                    latex_delimiters=LATEX,
                    buttons=["copy"],
                    feedback_options=None,
                    placeholder="Ask about images, videos, PDFs or slides: drop, paste or attach them below.",
                )
                box = gr.MultimodalTextbox(
                    elem_id="message",
                    file_count="multiple",
                    sources=["upload"],
                    placeholder="Message (Enter sends; drop or paste files)",
                    show_label=False,
                )
                cost = gr.Markdown(elem_id="upload-cost")
                with gr.Row():
                    stop = gr.Button("Stop", elem_id="stop", variant="stop")
                    regenerate = gr.Button("Regenerate", elem_id="regenerate")
                    clear = gr.Button("Clear", elem_id="clear")
            with gr.Column(scale=2):
                with gr.Accordion("Grounding", open=True, visible=False) as boxes_panel:
                    picture = gr.Image(
                        label="Boxes on the last image",
                        type="filepath",
                        interactive=False,
                        height=300,
                        elem_id="grounding",
                    )
                    coordinates = gr.Markdown(elem_id="coordinates")
                with gr.Accordion("HTML preview", open=True, visible=False) as html_panel:
                    preview = gr.HTML(elem_id="html-preview", js_on_load=None)
                    view_source = gr.Checkbox(label="View source", value=False, elem_id="view-source")
                    source = gr.Code(language="html", visible=False, elem_id="html-source")
                    page_file = gr.File(label="Download the page", interactive=False, elem_id="html-file")
                with gr.Accordion("Settings", open=True):
                    gr.Markdown(controls_help)
                    thinking = gr.Checkbox(
                        label="Thinking",
                        value=think_value,
                        interactive=think_interactive,
                        info=think_info,
                        elem_id="thinking",
                    )
                    budget = gr.Number(
                        label="Thinking budget (tokens; 0: no limit)",
                        value=settings.thinking_budget or 0,
                        precision=0,
                        minimum=0,
                        elem_id="budget",
                    )
                    max_tokens = gr.Slider(
                        1,
                        max(settings.max_tokens, min(family.context_length, 131072)),
                        value=settings.max_tokens,
                        step=1,
                        label="Max tokens",
                        elem_id="max-tokens",
                    )
                    temperature = gr.Slider(
                        0,
                        2,
                        value=settings.temperature
                        if settings.temperature is not None
                        else family.sampling.temperature,
                        step=0.05,
                        label="Temperature (0: greedy)",
                        elem_id="temperature",
                    )
                    top_p = gr.Slider(
                        0.01,
                        1,
                        value=settings.top_p if settings.top_p is not None else family.sampling.top_p,
                        step=0.01,
                        label="Top-p",
                        elem_id="top-p",
                    )
                    system = gr.Textbox(
                        label="System prompt", value=settings.system or "", lines=3, elem_id="system"
                    )
                with gr.Accordion("Export", open=False):
                    with gr.Row():
                        export_json = gr.Button("Export JSON", elem_id="export-json")
                        export_markdown = gr.Button("Export Markdown", elem_id="export-markdown")
                    exported = gr.File(label="Conversation file", interactive=False, elem_id="exported")

        controls = [thinking, budget, max_tokens, temperature, top_p, system]
        outputs = [chatbot, box, boxes_panel, picture, coordinates, html_panel, preview, source, page_file]
        hidden = {"api_visibility": "undocumented"}
        generation = {"concurrency_limit": settings.concurrency, "concurrency_id": "generate", **hidden}
        # "multiple": a question sent while a cleared reply's event is still ending must not be dropped (Gradio's
        # default, "once", ignores a submit while the event is pending); send() refuses a second question itself.
        box.submit(
            page.send,
            [box, *controls],
            outputs,
            show_progress="minimal",
            trigger_mode="multiple",
            **generation,
        )
        regenerate.click(page.regenerate, controls, outputs, show_progress="minimal", **generation)
        chatbot.edit(page.edit, controls, outputs, show_progress="minimal", **generation)
        stop.click(page.stop, None, None, queue=False, **hidden)
        clear.click(page.clear, None, outputs, queue=False, **hidden)
        chatbot.clear(page.clear, None, outputs, queue=False, **hidden)
        box.change(
            page.price, box, cost, show_progress="hidden", trigger_mode="always_last", queue=False, **hidden
        )
        view_source.change(lambda shown: gr.Code(visible=shown), view_source, source, queue=False, **hidden)
        export_json.click(page.export_json, None, exported, **hidden)
        export_markdown.click(page.export_markdown, None, exported, **hidden)
        demo.unload(page.close)
    return demo
