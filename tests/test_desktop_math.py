"""LaTeX math in ``glmv desktop`` answers: found outside code (prices are not math), drawn as formula images sized
to the text and coloured for the theme, read back from the answer's document; what mathtext cannot draw shows its
source in code style."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6.QtWidgets", reason="the desktop extra is not installed")
pytest.importorskip("matplotlib", reason="matplotlib (desktop extra) draws the formulas")

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QImage, QPalette, QTextDocument

from glmv.desktop.chatview import AnswerView
from glmv.desktop.formulas import Formula, FormulaStyle, render_formula, split_math


def _formulas(markdown: str) -> list[tuple[str, bool]]:
    return [(piece.source, piece.display) for piece in split_math(markdown) if isinstance(piece, Formula)]


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        (r"The area is $\pi r^2$.", [(r"\pi r^2", False)]),
        (r"Inline \(a_1 + b\) too.", [("a_1 + b", False)]),
        ("Display:\n\n$$\\int_0^1 x\\,dx$$\n", [(r"\int_0^1 x\,dx", True)]),
        ("Bracketed:\n\\[\n  x = \\frac{1}{2}\n\\]\n", [(r"x = \frac{1}{2}", True)]),
        ("It costs $5 or $10 today.", []),
        ("Between $3 and $4, and $x$.", [("x", False)]),
        ("An escaped \\$ sign and $y$.", [("y", False)]),
        ("Code `$not math$` and $z$.", [("z", False)]),
        ("``a `$b$` c`` then $w$", [("w", False)]),
        ('```python\nprice = "$x$"\n$$y$$\n```\nafter $v$', [("v", False)]),
        ("~~~\n$$q$$\n~~~", []),
        ("A line $open but never closed", []),
        ("Empty $$ $$ and $ $ are not formulas", []),
    ],
)
def test_math_is_found_outside_code_and_prices_are_not_math(markdown, expected):
    assert _formulas(markdown) == expected


def test_text_around_formulas_is_kept_in_order():
    pieces = split_math("a $x$ b $$y$$ c `$z$`")
    assert [piece if isinstance(piece, str) else piece.text for piece in pieces] == [
        "a ",
        "$x$",
        " b ",
        "$$y$$",
        " c `$z$`",
    ]


def _images(view: AnswerView) -> list[tuple[str, QImage, int]]:
    """The formula images of the answer's document: (URL, the image read back from the document, block)."""
    document = view.answer.document()
    found = []
    block = document.begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            fragment_format = iterator.fragment().charFormat()
            if fragment_format.isImageFormat():
                name = fragment_format.toImageFormat().name()
                image = document.resource(QTextDocument.ResourceType.ImageResource, QUrl(name))
                found.append((name, image, block.blockNumber()))
            iterator += 1
        block = block.next()
    return found


def _ink(image: QImage) -> tuple[int, QColor]:
    """How many pixels of ``image`` are drawn (not transparent), and the colour of the most opaque one."""
    drawn, best, colour = 0, -1, QColor()
    for y in range(image.height()):
        for x in range(image.width()):
            pixel = image.pixelColor(x, y)
            if pixel.alpha() > 0:
                drawn += 1
                if pixel.alpha() > best:
                    best, colour = pixel.alpha(), pixel
    return drawn, colour


MATH_ANSWER = (
    "The circle's area is $\\pi r^2$, and its perimeter \\(2\\pi r\\).\n\n"
    "$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$\n\n"
    "So the answer is $\\boxed{\\frac{1}{3}}$."
)


@pytest.fixture
def answer(qtbot) -> AnswerView:
    view = AnswerView()
    qtbot.addWidget(view)
    view.resize(640, 400)
    view.show()
    return view


def test_inline_and_display_math_are_drawn_as_formula_images(answer):
    answer.set_text("", MATH_ANSWER)
    shown = answer.answer.toPlainText()
    assert "$" not in shown and "\\pi" not in shown and "\\frac" not in shown
    assert "The circle's area is" in shown and "So the answer is" in shown
    images = _images(answer)
    kinds = [name.split(":")[1].split("/")[0] for name, _, _ in images]
    assert kinds == ["inline", "inline", "display", "inline"]
    font_px = answer.answer.formula_style().pixel_size
    for name, image, _ in images:
        assert not image.isNull(), name
        drawn, _ = _ink(image)
        assert drawn > 20, name  # real ink, not an empty picture
        height = image.height() / image.devicePixelRatio()
        assert font_px * 0.8 <= height <= font_px * 5, (name, height, font_px)
    (_, display, display_block) = images[2]
    inline_heights = [image.height() for name, image, _ in images if "inline" in name]
    assert display.height() > max(inline_heights[:2])  # the integral with its fraction, drawn larger
    block = answer.answer.document().findBlockByNumber(display_block)
    assert block.text() == "\ufffc" and block.blockFormat().alignment() & Qt.AlignmentFlag.AlignHCenter
    assert answer.content_text == MATH_ANSWER  # Copy gives the LaTeX source


def test_formulas_are_sized_to_the_font_and_coloured_for_the_theme(answer):
    small = render_formula(r"\sqrt{x^2+1}", False, FormulaStyle(12.0, 6.0, "#000000"))
    large = render_formula(r"\sqrt{x^2+1}", False, FormulaStyle(24.0, 12.0, "#000000"))
    assert small is not None and large is not None
    assert 1.7 < large.width() / small.width() < 2.3

    shown: dict[str, QImage] = {}
    for theme, base, text in (("light", "#ffffff", "#000000"), ("dark", "#1e1e1e", "#e6e6e6")):
        palette = QPalette(answer.answer.palette())
        palette.setColor(QPalette.ColorRole.Base, QColor(base))
        palette.setColor(QPalette.ColorRole.Text, QColor(text))
        answer.answer.setPalette(palette)
        answer.set_text("", f"{theme}: $e^{{i\\pi}} = -1$")
        (_, shown[theme], _) = _images(answer)[0]
    on_light, on_dark = shown["light"], shown["dark"]
    _, light_ink = _ink(on_light)
    _, dark_ink = _ink(on_dark)
    assert light_ink.lightness() < 80 and dark_ink.lightness() > 180


def test_a_formula_mathtext_cannot_draw_shows_its_source_as_code(answer):
    answer.set_text("", "Matrix: $\\begin{pmatrix} a \\end{pmatrix}$ and $x^2$.")
    document = answer.answer.document()
    shown = answer.answer.toPlainText()
    assert "$\\begin{pmatrix} a \\end{pmatrix}$" in shown and "$x^2$" not in shown
    cursor = document.find("begin{pmatrix}")
    assert cursor.charFormat().fontFixedPitch()  # code style
    assert [name.split(":")[1].split("/")[0] for name, _, _ in _images(answer)] == ["inline"]


def test_a_formula_still_streaming_is_shown_as_text_until_it_closes(answer):
    answer.add_content("Half a formula: $\\frac{1}{")
    answer.flush()
    assert "$\\frac{1}{" in answer.answer.toPlainText() and not _images(answer)
    answer.add_content("2}$ done.")
    answer.flush()
    assert "$" not in answer.answer.toPlainText() and len(_images(answer)) == 1


@pytest.mark.parametrize(
    ("source", "drawn"),
    [
        (r"a \le b \ge c", True),  # spellings mathtext lacks, translated
        (r"\tfrac{1}{2} + \dfrac{3}{4}", True),
        (r"\displaystyle \sum_i x_i", True),
        (r"\boxed{42}", True),
        (r"\text{area} = \pi r^2", True),
        (r"\begin{pmatrix} a \end{pmatrix}", False),
        (r"\frac{1}{", False),
    ],
)
def test_latex_mathtext_lacks_is_translated_or_refused(source, drawn):
    image = render_formula(source, False, FormulaStyle(14.0, 7.0, "#000000"))
    assert (image is not None) == drawn


def test_a_boxed_answer_is_drawn_with_a_frame():
    style = FormulaStyle(14.0, 7.0, "#000000")
    plain, boxed = render_formula("42", False, style), render_formula(r"\boxed{42}", False, style)
    assert boxed.width() > plain.width()
    column = [boxed.pixelColor(0, y).alpha() for y in range(boxed.height())]
    assert max(column) == 255  # the frame's left edge
