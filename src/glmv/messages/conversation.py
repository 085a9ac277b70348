"""``Conversation``: one chat with a GLM-V model, kept as data, saved and loaded as one JSON format.

A :class:`Conversation` holds the history (OpenAI chat messages), the attachments waiting for the next message,
the system prompt, the request settings and the family whose history policy applies. Front ends (``glmv chat``,
the web UI, the desktop app, the agent) keep their conversation in one; it knows nothing of terminals or
widgets. It never calls a model: :meth:`Conversation.ask` returns the keywords of a
:class:`glmv.engine.ChatRequest`, and :meth:`Conversation.answered` stores the parsed reply::

    conversation = Conversation("glm-4.6v-flash", settings={"max_tokens": 1024})
    conversation.attach(images=["cat.png"])            # checked now: a bad file is a MediaError here
    reply = chat(engine, ChatRequest(**conversation.ask("What is this?")))
    conversation.answered(reply)
    conversation.save("cat.json")
    later = Conversation.load("cat.json")

The file format (version 1)
---------------------------
One UTF-8 JSON object::

    {
      "format": "glmv.conversation",
      "version": 1,
      "family": "glm-4.6v-flash",
      "system": "Answer briefly.",
      "settings": {"max_tokens": 1024, "temperature": 0, "enable_thinking": true},
      "messages": [
        {"role": "user", "content": [
          {"type": "image_url", "image_url": {"url": "/home/me/cat.png"}},
          {"type": "text", "text": "What is this?"}]},
        {"role": "assistant", "content": "A cat.", "reasoning_content": "Whiskers and fur."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
          "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"}
      ]
    }

- ``format`` and ``version`` are required and exact; a newer version is refused with a hint to upgrade glmv.
- ``family`` is any name :func:`glmv.families.get_family` accepts. ``system`` is a string or null.
- ``settings`` holds only keywords of ``ChatRequest`` (:attr:`Conversation.SETTINGS`) with values of their types.
- ``messages`` holds ``user``, ``assistant`` and ``tool`` messages in the OpenAI shape (no other keys).
  User and tool content is a string or a list of ``text`` / ``image_url`` / ``video_url`` parts. An assistant
  message is the *parsed* reply: readable ``content`` (no think, answer or box markers), ``reasoning_content``
  when the model reasoned, ``tool_calls`` with ``arguments`` as a JSON string. Reasoning is kept in the file and
  dropped from earlier turns when the conversation is sent (:func:`glmv.messages.apply_history_policy`).
- Media are referenced by absolute path (``"/home/me/cat.png"``; a relative path is read against the folder of
  the file), by ``file://`` or ``http(s)://`` URL, or embedded as a ``data:`` URI (``save(embed_media=True)``
  embeds every local file, so the file travels alone). Document pages are always embedded PNG images.
- Attachments not yet sent are not saved.

Loading is strict: anything else is a :class:`~glmv.errors.ConfigError` that names the file and the problem,
and images the history points at must exist and decode (videos must exist).
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from glmv.errors import ConfigError, FamilyError, MediaError, RequestError
from glmv.families import Family, get_family
from glmv.messages.content import apply_history_policy, image_part, media_in_order, text_part, video_part
from glmv.messages.conversation_file import (
    FORMAT_NAME,
    FORMAT_VERSION,
    REQUEST_SETTINGS,
    check_media,
    check_messages,
    check_settings,
    embedded_media,
    local_path,
    resolve_paths,
)

if TYPE_CHECKING:
    from glmv.media import MediaPolicy
    from glmv.output import Reply

__all__ = ["Attachment", "Conversation"]

MAX_FILE_BYTES = 1024 * 1024 * 1024
"""The largest conversation file :meth:`Conversation.load` reads (embedded media make files large)."""

_TOP_KEYS = {"format", "version", "family", "system", "settings", "messages"}


@dataclass(frozen=True)
class Attachment:
    """One image, video or document waiting for the next message.

    ``label`` names it for people (the path or URL as given); ``parts`` are the content parts it becomes (a
    document becomes one image part per kept page); ``note`` says what a budget changed (pages dropped).
    """

    kind: Literal["image", "video", "file"]
    label: str
    parts: tuple[dict[str, Any], ...]
    note: str = ""


def _label(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, (bytes, bytearray)):
        return f"{len(source)} bytes"
    return f"a {type(source).__name__}"


def _url(source: str | Path) -> str:
    """A path as the absolute path the history keeps (so a saved file works from any folder); URLs unchanged."""
    path = local_path(str(source))
    if path is None or str(source).lower().startswith("file://"):
        return str(source)
    return str(path.absolute())


class Conversation:
    """History, pending attachments, system prompt and request settings of one chat (see the module docstring).

    ``family`` chooses the history policy and how videos are sampled when they are checked; ``policy`` (a
    :class:`glmv.media.MediaPolicy`) says which media may be attached and how large they may be.
    """

    SETTINGS: tuple[str, ...] = REQUEST_SETTINGS
    """The request settings a conversation may hold: the keywords of :class:`glmv.engine.ChatRequest` but
    ``messages``."""

    def __init__(
        self,
        family: Family | str,
        *,
        system: str | None = None,
        settings: dict[str, Any] | None = None,
        messages: Iterable[dict[str, Any]] = (),
        policy: MediaPolicy | None = None,
    ) -> None:
        self.family = family  # type: ignore[assignment]  # the setter takes a name too
        if system is not None and not isinstance(system, str):
            raise ConfigError(f"The system prompt must be a string, not {type(system).__name__}.")
        self.system = system
        self.settings: dict[str, Any] = check_settings(dict(settings or {}), "the conversation")
        self.messages: list[dict[str, Any]] = copy.deepcopy(list(messages))
        check_messages(self.messages, "the conversation")
        self.policy = policy
        self._pending: list[Attachment] = []

    @property
    def family(self) -> Family:
        return self._family

    @family.setter
    def family(self, family: Family | str) -> None:
        self._family = get_family(family)

    @property
    def pending(self) -> tuple[Attachment, ...]:
        """The attachments the next :meth:`ask` sends, in the order they were attached."""
        return tuple(self._pending)

    @property
    def last_image(self) -> str | None:
        """The path, URL or ``data:`` URI of the last image in the history (boxes in a reply refer to it)."""
        images = [ref.source for ref in media_in_order(self.messages, self.family) if ref.kind == "image"]
        return images[-1] if images and isinstance(images[-1], str) else None

    def configure(self, **settings: Any) -> None:
        """Change request settings (``max_tokens=``, ``enable_thinking=``, …); a wrong key or value is refused."""
        self.settings.update(check_settings(settings, "the conversation"))

    # ---- attachments ---------------------------------------------------------------------------------------

    def attach(
        self, images: Iterable[Any] = (), videos: Iterable[Any] = (), files: Iterable[Any] = ()
    ) -> list[Attachment]:
        """Check media now and keep them for the next message; the new attachments are returned.

        Images are paths, URLs, ``data:`` URIs, bytes or PIL images; videos are paths, URLs, ``data:`` URIs or
        bytes; files are documents (PDF, PPTX, …) whose pages are rendered now. Each is read through
        :mod:`glmv.media`, so a missing, unreadable or corrupt one raises :class:`~glmv.errors.MediaError`
        naming it, and then nothing of this call is attached.
        """
        new = [self._document(source) for source in files]
        new += [self._image(source) for source in images]
        new += [self._video(source) for source in videos]
        self._pending.extend(new)
        return new

    def discard_attachments(self) -> None:
        """Forget the attachments waiting for the next message."""
        self._pending.clear()

    def _image(self, source: Any) -> Attachment:
        from glmv.media import load_image

        if isinstance(source, (str, Path)):
            url = _url(source)
            load_image(url, self.policy)
            return Attachment("image", str(source), (image_part(url),))
        load_image(source, self.policy)
        return Attachment("image", _label(source), (image_part(source),))

    def _video(self, source: Any) -> Attachment:
        from glmv.media import load_video

        if isinstance(source, (str, Path)):
            url = _url(source)
        elif isinstance(source, (bytes, bytearray)):
            url = bytes(source)
        else:
            raise MediaError(
                f"Cannot attach a video given as {_label(source)}; give a path, a URL, a data: URI or bytes."
            )
        load_video(url, self.family, self.policy)
        return Attachment("video", _label(source), (video_part(url),))

    def _document(self, source: Any) -> Attachment:
        from glmv.media import load_document

        target = _url(source) if isinstance(source, (str, Path)) else source
        document = load_document(target, policy=self.policy)
        parts = tuple(image_part(page) for page in document.pages)
        return Attachment("file", _label(source), parts, document.note)

    # ---- turns ---------------------------------------------------------------------------------------------

    def ask(self, text: str = "") -> dict[str, Any]:
        """Add a user message (``text`` after the pending attachments, which are used up) and return the request.

        The request is the keywords of :class:`glmv.engine.ChatRequest`: ``ChatRequest(**conversation.ask(…))``.
        """
        parts = [part for attachment in self._pending for part in attachment.parts]
        if text:
            parts.append(text_part(text))
        if not parts:
            raise RequestError("A message needs text or at least one attachment.")
        content: str | list[dict[str, Any]] = text if len(parts) == 1 and text else parts
        self.messages.append({"role": "user", "content": content})
        self._pending.clear()
        return self.request()

    def request(self) -> dict[str, Any]:
        """The keywords of a :class:`glmv.engine.ChatRequest` for the history as it stands (history policy
        applied, system prompt first, settings added)."""
        system = [{"role": "system", "content": self.system}] if self.system else []
        messages = apply_history_policy(copy.deepcopy(system + self.messages), self.family)
        return {"messages": messages, **copy.deepcopy(self.settings)}

    def answered(self, reply: Reply) -> dict[str, Any]:
        """Store ``reply`` (a parsed :class:`glmv.output.Reply`) as the assistant turn; the message is returned."""
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json()},
                }
                for call in reply.tool_calls
            ]
        self.messages.append(message)
        return message

    def add_tool_result(self, tool_call_id: str, content: str | list[dict[str, Any]]) -> None:
        """Store what a tool returned for the call ``tool_call_id``; :meth:`request` then continues the turn."""
        message = {"role": "tool", "tool_call_id": tool_call_id, "content": content}
        check_messages([message], "the tool result")
        self.messages.append(message)

    def forget_question(self) -> None:
        """Drop the last user message when nothing answered it (its reply failed or was stopped)."""
        if self.messages and self.messages[-1].get("role") == "user":
            self.messages.pop()

    def clear(self) -> None:
        """Forget the history and the pending attachments; the system prompt and settings stay."""
        self.messages.clear()
        self._pending.clear()

    # ---- the file format -----------------------------------------------------------------------------------

    def to_dict(self, embed_media: bool = False) -> dict[str, Any]:
        """The conversation in the file format (a JSON-ready dict); ``embed_media`` turns local files into
        ``data:`` URIs (a :class:`~glmv.errors.MediaError` when one is gone)."""
        check_messages(self.messages, "the conversation")
        messages = embedded_media(self.messages) if embed_media else copy.deepcopy(self.messages)
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "family": self.family.name,
            "system": self.system,
            "settings": copy.deepcopy(self.settings),
            "messages": messages,
        }

    @classmethod
    def from_dict(
        cls,
        data: Any,
        *,
        where: str = "the conversation",
        base: Path | None = None,
        policy: MediaPolicy | None = None,
        check_files: bool = True,
    ) -> Conversation:
        """A conversation from the file format; ``where`` names the source in errors, ``base`` is the folder
        relative media paths are read against, ``check_files=False`` skips opening the media."""
        if not isinstance(data, dict):
            raise ConfigError(
                f'{where}: expected a JSON object with "format": "{FORMAT_NAME}", not a {type(data).__name__}. '
                "Is it a conversation saved by glmv (glmv chat /save, Conversation.save)?"
            )
        if data.get("format") != FORMAT_NAME:
            raise ConfigError(f'{where}: "format" must be "{FORMAT_NAME}", not {data.get("format")!r}.')
        version = data.get("version")
        if version != FORMAT_VERSION:
            newer = isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION
            hint = " It was written by a newer glmv: upgrade glmv to read it." if newer else ""
            raise ConfigError(f'{where}: "version" must be {FORMAT_VERSION}, not {version!r}.{hint}')
        unknown = sorted(set(data) - _TOP_KEYS)
        missing = sorted({"family", "messages"} - set(data))
        if unknown or missing:
            problem = f"unknown key {unknown[0]!r}" if unknown else f"missing key {missing[0]!r}"
            raise ConfigError(f"{where}: {problem} (a conversation holds {', '.join(sorted(_TOP_KEYS))}).")
        if not isinstance(data["family"], str):
            raise ConfigError(f'{where}: "family" must be a string such as "glm-4.6v-flash".')
        try:
            family = get_family(data["family"])
        except FamilyError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        system = data.get("system")
        if system is not None and not isinstance(system, str):
            raise ConfigError(f'{where}: "system" must be a string or null.')
        settings = check_settings(data.get("settings", {}), where)
        messages = copy.deepcopy(data["messages"])
        check_messages(messages, where)
        if base is not None:
            resolve_paths(messages, base)
        if check_files:
            check_media(messages, where, policy)
        return cls(family, system=system, settings=settings, messages=messages, policy=policy)

    def save(self, path: str | Path, embed_media: bool = False) -> Path:
        """Write the conversation to ``path`` in the file format (atomically: a failed save leaves the old file).

        ``embed_media=True`` writes local images and videos into the file as ``data:`` URIs.
        """
        path = Path(path).expanduser()
        text = json.dumps(self.to_dict(embed_media=embed_media), ensure_ascii=False, indent=2) + "\n"
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            raise ConfigError(
                f"Cannot save the conversation to {path}: {exc.strerror or exc}. Check that the folder exists "
                "and is writable."
            ) from exc
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temporary, path)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise ConfigError(f"Cannot save the conversation to {path}: {exc.strerror or exc}.") from exc
        return path

    @classmethod
    def load(
        cls, path: str | Path, *, policy: MediaPolicy | None = None, check_files: bool = True
    ) -> Conversation:
        """The conversation saved in ``path``; a bad file is a :class:`~glmv.errors.ConfigError` naming it."""
        path = Path(path).expanduser()
        where = str(path)
        try:
            if not path.is_file():
                problem = "does not exist" if not path.exists() else "is not a regular file"
                raise ConfigError(f"The conversation file {where} {problem}.")
            with path.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"Cannot read the conversation file {where}: {exc.strerror or exc}.") from exc
        if len(data) > MAX_FILE_BYTES:
            raise ConfigError(f"{where} is over {MAX_FILE_BYTES} bytes; is it a conversation file?")
        try:
            parsed = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{where} is not UTF-8 text (byte {exc.start}); is it a conversation file?"
            ) from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
            ) from exc
        except RecursionError as exc:
            raise ConfigError(f"{where} is nested too deeply to be a conversation file.") from exc
        return cls.from_dict(
            parsed, where=where, base=path.parent.absolute(), policy=policy, check_files=check_files
        )
