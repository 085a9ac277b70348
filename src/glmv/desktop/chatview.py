"""The conversation drawn as a column of messages: questions with their images, answers with a collapsible
thinking section, the markdown answer (code highlighted, LaTeX formulas drawn), copy and HTML-preview buttons, and
boxes drawn over the image.

Streaming text is gathered as it comes and drawn at most every :data:`FLUSH_MS` milliseconds (as the official app
throttles to ~60 fps), so a fast stream never queues up repaints.
"""

from __future__ import annotations

from typing import Any

from PIL import Image
from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QFontInfo,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QPalette,
    QPixmap,
    QTextFormat,
    QTextOption,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from glmv.desktop.formulas import FormulaStyle, align_formulas, warm_up, with_formulas
from glmv.desktop.highlight import CodeHighlighter
from glmv.output.html import fence_html

__all__ = ["AnswerView", "ChatView", "pixmap_from_image", "pixmap_from_url"]

FLUSH_MS = 50
THUMBNAIL = 160


def pixmap_from_image(image: Image.Image) -> QPixmap:
    """A QPixmap of a PIL image (copied; RGB images go straight through, others are converted to RGBA)."""
    if image.mode == "RGB":
        data, fmt, depth = image.tobytes(), QImage.Format.Format_RGB888, 3
    else:
        data, fmt, depth = image.convert("RGBA").tobytes(), QImage.Format.Format_RGBA8888, 4
    # copy(): the QImage borrows the bytes' buffer, and a pixmap may share an image's buffer instead of copying it
    return QPixmap.fromImage(QImage(data, image.width, image.height, image.width * depth, fmt).copy())


def pixmap_from_url(url: str) -> QPixmap | None:
    """A QPixmap of the image at ``url`` (a path or data: URI), or None when it cannot be read."""
    from glmv.errors import GlmvError
    from glmv.media import load_image

    try:
        return pixmap_from_image(load_image(url))
    except GlmvError:
        return None


def _dark() -> bool:
    """Whether the application's palette is dark (light text on a dark window)."""
    return QGuiApplication.palette().window().color().lightness() < 128


class _Text(QTextBrowser):
    """A text browser as tall as its text (the chat column scrolls, not each message); markdown text shows its
    LaTeX formulas drawn (:mod:`~glmv.desktop.formulas`)."""

    def __init__(self, markdown: bool) -> None:
        super().__init__()
        self.markdown = markdown
        self.formulas: dict[str, QImage] = {}
        """The formula images of the text shown, by their ``glmv-math:`` URL."""
        self.setOpenExternalLinks(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)

    def show_text(self, text: str) -> None:
        if not self.markdown:
            self.setPlainText(text)
            return
        markdown, self.formulas = with_formulas(text, self.formula_style())
        self.setMarkdown(markdown)
        if self.formulas:
            align_formulas(self.document())

    def formula_style(self) -> FormulaStyle:
        """Formulas at the size of the text's font, in its colour, for this screen's pixel ratio."""
        metrics = QFontMetricsF(self.document().defaultFont())
        pixel_size = QFontInfo(self.document().defaultFont()).pixelSize()
        colour = self.palette().color(QPalette.ColorRole.Text).name()
        return FormulaStyle(float(pixel_size), metrics.xHeight(), colour, self.devicePixelRatioF())

    def loadResource(self, kind: int, name: QUrl) -> Any:  # Qt's name
        image = self.formulas.get(name.toString())
        return image if image is not None else super().loadResource(kind, name)

    def _fit(self) -> None:
        self.setFixedHeight(int(self.document().size().height()) + 6)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit()


class AnswerView(QFrame):
    """One answer: a thinking toggle and its text, the markdown answer, a grounding image, buttons."""

    preview_html = Signal(str)

    def __init__(self, thinking_open: bool = True) -> None:
        super().__init__()
        self.setObjectName("answer")
        self.reasoning_text = ""
        self.content_text = ""
        self._dirty = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        self.thinking_toggle = QToolButton(text="Thinking")
        self.thinking_toggle.setCheckable(True)
        self.thinking_toggle.setChecked(thinking_open)
        self.thinking_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.thinking_toggle.toggled.connect(self._toggle)
        self.thinking = _Text(markdown=False)
        self.thinking.setObjectName("thinking")
        self.thinking.setStyleSheet("color: gray;")
        self.answer = _Text(markdown=True)
        self.highlighter = CodeHighlighter(self.answer.document(), dark=_dark())
        self.image = QLabel()
        self.image.setObjectName("grounding")
        self.image.hide()
        self.status = QLabel()
        self.status.setStyleSheet("color: #b06000;")
        self.status.hide()
        buttons = QHBoxLayout()
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy)
        self.code_button = QPushButton("Copy code")
        self.code_button.clicked.connect(self.copy_code)
        self.code_button.hide()
        self.html_button = QPushButton("Preview HTML")
        self.html_button.clicked.connect(lambda: self.preview_html.emit(self.html()))
        self.html_button.hide()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.code_button)
        buttons.addWidget(self.html_button)
        buttons.addStretch()
        for widget in (self.thinking_toggle, self.thinking, self.answer, self.image, self.status):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        self.thinking_toggle.hide()
        self.thinking.hide()

    def _toggle(self, open_: bool) -> None:
        self.thinking_toggle.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        self.thinking.setVisible(open_ and bool(self.reasoning_text))

    @property
    def thinking_open(self) -> bool:
        return self.thinking_toggle.isChecked()

    def add_reasoning(self, text: str) -> None:
        self.reasoning_text += text
        self._dirty = True

    def add_content(self, text: str) -> None:
        self.content_text += text
        self._dirty = True

    def set_text(self, reasoning: str, content: str) -> None:
        self.reasoning_text, self.content_text = reasoning, content
        self._dirty = True
        self.flush()

    def flush(self) -> bool:
        """Draw what came since the last flush; False when nothing had."""
        if not self._dirty:
            return False
        self._dirty = False
        if self.reasoning_text:
            self.thinking_toggle.show()
            self.thinking.show_text(self.reasoning_text)
            self._toggle(self.thinking_open)
        self.answer.show_text(fence_html(self.content_text))
        self.html_button.setVisible(bool(self.html()))
        self.code_button.setVisible(bool(self.code_blocks()))
        return True

    def code_blocks(self) -> list[str]:
        """The text of each fenced code block of the answer, as Qt's markdown reader marked them (two blocks with
        nothing between them read as one)."""
        blocks: list[str] = []
        block, previous_in_code = self.answer.document().begin(), False
        while block.isValid():
            in_code = block.blockFormat().hasProperty(QTextFormat.Property.BlockCodeFence)
            if in_code:
                if previous_in_code:
                    blocks[-1] += "\n" + block.text()
                else:
                    blocks.append(block.text())
            previous_in_code = in_code
            block = block.next()
        return blocks

    def html(self) -> str:
        """The HTML page of the answer, when it is one (fenced ```html``` or bare), else ``""``."""
        text = fence_html(self.content_text)
        start = text.find("```html\n")
        if start < 0:
            return ""
        body = text[start + len("```html\n") :]
        end = body.find("\n```")
        return body if end < 0 else body[:end]

    def set_grounding(self, image: Image.Image | None) -> None:
        if image is None:
            self.image.hide()
            return
        pixmap = pixmap_from_image(image)
        self.image.setPixmap(
            pixmap.scaledToWidth(min(pixmap.width(), 640), Qt.TransformationMode.SmoothTransformation)
        )
        self.image.show()

    def set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.content_text)

    def copy_code(self) -> None:
        QGuiApplication.clipboard().setText("\n\n".join(self.code_blocks()))


class ChatView(QScrollArea):
    """The messages of a conversation, newest at the bottom; :meth:`begin_answer` starts a streamed one."""

    preview_html = Signal(str)

    def __init__(self, thinking_open: bool = True) -> None:
        super().__init__()
        warm_up()  # answers draw their formulas with matplotlib: load it now, on a thread
        self.thinking_open = thinking_open
        self.setWidgetResizable(True)
        self._column = QWidget()
        self._layout = QVBoxLayout(self._column)
        self._layout.addStretch()
        self.setWidget(self._column)
        self.live: AnswerView | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self.flush)
        self.verticalScrollBar().rangeChanged.connect(self._follow)
        self._at_bottom = True

    def _add(self, widget: QWidget) -> None:
        self._layout.insertWidget(self._layout.count() - 1, widget)

    def _follow(self, _minimum: int, maximum: int) -> None:
        if self._at_bottom:
            self.verticalScrollBar().setValue(maximum)

    def messages(self) -> list[QWidget]:
        return [self._layout.itemAt(i).widget() for i in range(self._layout.count() - 1)]

    def answers(self) -> list[AnswerView]:
        return [widget for widget in self.messages() if isinstance(widget, AnswerView)]

    def clear(self) -> None:
        self.end_answer()
        for widget in self.messages():
            widget.setParent(None)
            widget.deleteLater()

    def add_question(self, text: str, images: list[str]) -> None:
        frame = QFrame()
        frame.setObjectName("question")
        frame.setStyleSheet("#question { background: palette(alternate-base); border-radius: 6px; }")
        layout = QVBoxLayout(frame)
        if images:
            row = QHBoxLayout()
            for url in images:
                pixmap = pixmap_from_url(url)
                label = QLabel("(image missing)" if pixmap is None else "")
                if pixmap is not None:
                    label.setPixmap(pixmap.scaled(THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio))
                row.addWidget(label)
            row.addStretch()
            layout.addLayout(row)
        if text:
            label = QLabel(text)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(label)
        self._add(frame)

    def add_answer(self, reasoning: str, content: str) -> AnswerView:
        view = AnswerView(self.thinking_open)
        view.preview_html.connect(self.preview_html)
        view.set_text(reasoning, content)
        self._add(view)
        return view

    def add_notice(self, text: str) -> QLabel:
        """A message in the window (an error, a refused attachment): it stays in the column until redrawn."""
        label = QLabel(text)
        label.setObjectName("notice")
        label.setWordWrap(True)
        label.setStyleSheet("color: #c0392b;")
        self._add(label)
        return label

    def show_messages(self, messages: list[dict[str, Any]]) -> None:
        """Draw a whole conversation (a loaded one, or after a change)."""
        self.clear()
        for message in messages:
            content = message.get("content")
            if message.get("role") == "user":
                parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
                text = "\n".join(p.get("text", "") for p in parts if p.get("type") == "text")
                images = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
                self.add_question(text, images)
            elif message.get("role") == "assistant":
                self.add_answer(message.get("reasoning_content", ""), content or "")

    def begin_answer(self) -> AnswerView:
        self._at_bottom = True
        self.live = self.add_answer("", "")
        self._timer.start()
        return self.live

    def add_reasoning(self, text: str) -> None:
        if self.live is not None:
            self.live.add_reasoning(text)

    def add_content(self, text: str) -> None:
        if self.live is not None:
            self.live.add_content(text)

    def flush(self) -> None:
        if self.live is not None:
            self.live.flush()

    def end_answer(self) -> AnswerView | None:
        live, self.live = self.live, None
        self._timer.stop()
        if live is not None:
            live.flush()
        return live
