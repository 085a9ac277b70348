"""``glmv desktop`` offscreen (``QT_QPA_PLATFORM=offscreen``) over a :class:`ScriptedEngine`: what a user sees
when sending with attachments, streaming, stopping, regenerating, searching the history after a restart, changing
settings, selecting a region and reading a grounding answer; and that errors become messages in the window."""

from __future__ import annotations

import os
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6.QtWidgets", reason="the desktop extra is not installed")

from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QLabel, QToolButton

from glmv.desktop import DesktopSettings, History, Region, build_window, load_settings, save_settings
from glmv.desktop.capturing import Capturer
from glmv.desktop.overlay import RegionOverlay
from glmv.desktop.preview import HtmlPreview
from glmv.engine import ScriptedEngine, open_engine
from glmv.errors import ConfigError
from glmv.media import image_tokens
from glmv.messages import Conversation
from glmv.testing.serving import free_port

CAT_REPLY = (
    "<think>The cat sits in the left half of the picture.</think>"
    "The cat is here: <|begin_of_box|>[[100,200,500,600]]<|end_of_box|>"
)
LONG_REPLY = "<think>" + "step " * 40 + "</think>" + "word " * 400


@pytest.fixture(autouse=True)
def _no_os_keyring():
    """The API key goes to the 0600 file in these tests, never to the keyring of the machine running them
    (tests/test_desktop_credentials.py covers the keyring)."""
    keyring = pytest.importorskip("keyring")
    from keyring.backends import fail

    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    Image.new("RGB", (400, 300), "white").save(path)
    return path


@pytest.fixture
def open_window(qtbot, tmp_path: Path):
    """``open(engine, **settings)``: a shown main window with its history in ``tmp_path/data``."""

    def open_(engine, data: Path | None = None, grab=None, **settings):
        kwargs = {"grab": grab} if grab is not None else {}
        window = build_window(
            engine,
            DesktopSettings(family="glm-4.6v", **settings),
            data or tmp_path / "data",
            tmp_path / "config",
            **kwargs,
        )
        window.capturer.hide_ms = 0
        qtbot.addWidget(window)
        window.show()
        return window

    return open_


def _pump(seconds: float, until=lambda: False) -> bool:
    """Run the Qt event loop for up to ``seconds``, or until ``until()``; whether it came true.

    (pytest-qt's ``waitUntil`` / ``waitSignal`` are not used: their slot objects crash PySide6 6.12 on Python 3.11.)
    """
    app = QApplication.instance()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if until():
            return True
        time.sleep(0.005)
    return False


def _until(condition, timeout: float = 10.0) -> None:
    assert _pump(timeout, condition), f"timed out after {timeout} s"


@contextmanager
def _signal(signal, timeout: float = 10.0):
    """Like ``qtbot.waitSignal``: after the block, wait for ``signal``; ``.args`` holds what it carried."""
    seen: list = []
    signal.connect(lambda *args: seen.append(args))
    caught = SimpleNamespace(args=None)
    yield caught
    _until(lambda: bool(seen), timeout)
    caught.args = list(seen[0])


def _wait_idle(qtbot, window, timeout: int = 10_000) -> None:
    _until(lambda: not window.session.busy, timeout / 1000)


def test_send_with_an_attachment_streams_the_reasoning_then_the_answer(qtbot, open_window, picture):
    engine = ScriptedEngine([CAT_REPLY], family="glm-4.6v", delay=0.002)
    window = open_window(engine)
    session, panel = window.session, window.panel
    order: list[str] = []
    session.reasoning.connect(lambda _: order.append("reasoning"))
    session.content.connect(lambda _: order.append("content"))

    assert session.attach([picture]) == 1
    assert panel.tray.isVisible() and f"{image_tokens(400, 300):,} image tokens" in panel.tray.total.text()
    panel.composer.setPlainText("Where is the cat?")
    qtbot.keyClick(panel.composer, Qt.Key.Key_Return)
    _wait_idle(qtbot, window)

    sent = engine.history[0].messages[-1]["content"]
    assert sent[0] == {"type": "image_url", "image_url": {"url": str(picture)}}
    assert sent[-1] == {"type": "text", "text": "Where is the cat?"}
    assert order[0] == "reasoning" and order[-1] == "content"
    assert order.index("content") > max(i for i, kind in enumerate(order) if kind == "reasoning")
    answer = panel.chat.answers()[-1]
    assert answer.thinking.toPlainText() == "The cat sits in the left half of the picture."
    assert answer.thinking.isVisible()
    assert "The cat is here" in answer.answer.toPlainText()
    assert panel.composer.toPlainText() == "" and not panel.tray.isVisible()


def test_the_thinking_section_collapses_and_starts_closed_when_set(qtbot, open_window):
    window = open_window(ScriptedEngine([CAT_REPLY], family="glm-4.6v"), thinking_open=False)
    window.session.send("Where?")
    _wait_idle(qtbot, window)
    answer = window.panel.chat.answers()[-1]
    assert answer.thinking_toggle.isVisible() and not answer.thinking.isVisible()
    answer.thinking_toggle.click()
    assert answer.thinking.isVisible()


def _assert_cat_box_drawn(drawn: QLabel) -> None:
    assert drawn.isVisible()
    image = drawn.pixmap().toImage()
    assert (image.width(), image.height()) == (400, 300)
    # the box [100,200,500,600] of a 400x300 image: its left edge runs down x=40 from y=60 to y=180
    edge, inside, outside = image.pixelColor(41, 120), image.pixelColor(120, 120), image.pixelColor(300, 250)
    assert edge.red() > 200 and edge.green() < 80  # the first box colour, #e6194b
    assert inside.name() == outside.name() == "#ffffff"


def test_a_grounding_answer_is_drawn_over_the_image_it_refers_to(qtbot, open_window, picture):
    window = open_window(ScriptedEngine([CAT_REPLY], family="glm-4.6v"))
    window.session.attach([picture])
    window.session.send("Where is the cat?")
    _wait_idle(qtbot, window)
    _assert_cat_box_drawn(window.panel.chat.answers()[-1].image)


def test_a_grounding_answer_is_drawn_again_when_its_conversation_is_reopened_after_a_restart(
    qtbot, open_window, picture, tmp_path
):
    first = open_window(ScriptedEngine([CAT_REPLY, "It is grey."], family="glm-4.6v"))
    first.session.attach([picture])
    first.session.send("Where is the cat?")
    _wait_idle(qtbot, first)
    first.session.send("What colour is it?")
    _wait_idle(qtbot, first)
    first.close()
    picture.unlink()  # the history kept its own copy of the image the box refers to

    again = open_window(ScriptedEngine(family="glm-4.6v"))
    assert again.panel.chat.answers() == []
    panel = again.history_panel
    panel.list.itemClicked.emit(panel.list.item(0))
    _pump(0.1)  # widgets added to a shown window are shown by a queued call
    answers = again.panel.chat.answers()
    assert [a.content_text for a in answers] == ["The cat is here: [[100,200,500,600]]", "It is grey."]
    _assert_cat_box_drawn(answers[0].image)
    assert not answers[1].image.isVisible()  # an answer without boxes draws none
    assert not again.floating.panel.chat.answers()[0].image.isHidden()  # the floating window has it too


def test_a_regenerated_answer_without_boxes_draws_none_after_a_restart(qtbot, open_window, picture):
    first = open_window(ScriptedEngine([CAT_REPLY, "I cannot see a cat."], family="glm-4.6v"))
    first.session.attach([picture])
    first.session.send("Where is the cat?")
    _wait_idle(qtbot, first)
    first.panel.regenerate_button.click()
    _wait_idle(qtbot, first)
    first.close()

    again = open_window(ScriptedEngine(family="glm-4.6v"))
    again.history_panel.list.itemClicked.emit(again.history_panel.list.item(0))
    _pump(0.1)
    (answer,) = again.panel.chat.answers()
    assert answer.content_text == "I cannot see a cat." and not answer.image.isVisible()


def test_stop_cancels_the_generation_and_keeps_the_partial_answer(qtbot, open_window):
    engine = ScriptedEngine([LONG_REPLY], family="glm-4.6v", delay=0.01)
    window = open_window(engine)
    window.session.send("Count words.")
    _until(lambda: window.panel.chat.live is not None and "word" in window.panel.chat.live.content_text)
    window.panel.stop_button.click()
    assert not window.session.busy
    _until(lambda: engine.cancelled == 1)
    kept = window.session.conversation.messages[-1]
    assert kept["role"] == "assistant" and kept["content"].startswith("word")
    assert len(kept["content"]) < len("word " * 400)
    answer = window.panel.chat.answers()[-1]
    assert answer.status.text().startswith("Stopped") and answer.content_text == kept["content"]
    assert window.panel.send_button.isEnabled()


def test_regenerate_replaces_the_last_answer(qtbot, open_window):
    engine = ScriptedEngine(["First.", "Second."], family="glm-4.6v")
    window = open_window(engine)
    window.session.send("Say something.")
    _wait_idle(qtbot, window)
    window.panel.regenerate_button.click()
    _wait_idle(qtbot, window)
    messages = window.session.conversation.messages
    assert [m["role"] for m in messages] == ["user", "assistant"] and messages[-1]["content"] == "Second."
    assert [a.content_text for a in window.panel.chat.answers()] == ["Second."]
    assert engine.history[1].messages == engine.history[0].messages


def test_history_is_saved_and_searched_after_a_restart(qtbot, open_window, picture, tmp_path):
    first = open_window(ScriptedEngine(["Paris is the capital.", "Blue."], family="glm-4.6v"))
    first.session.attach([picture])
    first.session.send("What is the capital of France?")
    _wait_idle(qtbot, first)
    first.session.new_conversation()
    first.session.send("Colour of the sky?")
    _wait_idle(qtbot, first)
    first.close()
    picture.unlink()  # the history keeps its own copy of the media

    again = open_window(ScriptedEngine(["Lyon is second."], family="glm-4.6v"))
    panel = again.history_panel
    assert panel.list.count() == 2
    panel.search.setText("capit fran")
    assert panel.list.count() == 1 and "capital of France" in panel.list.item(0).text()
    conversation_id = panel.ids()[0]
    panel.list.itemClicked.emit(panel.list.item(0))
    chat = again.panel.chat
    assert [a.content_text for a in chat.answers()] == ["Paris is the capital."]
    again.session.send("And the second city?")
    _wait_idle(qtbot, again)
    assert again.session.conversation_id == conversation_id

    panel.rename(conversation_id, "French cities")
    panel.search.setText("French")
    assert panel.list.count() == 1 and panel.list.item(0).text().startswith("French cities")
    exported = tmp_path / "export.json"
    panel.export(conversation_id, str(exported))
    loaded = Conversation.load(exported)
    assert [m["role"] for m in loaded.messages] == ["user", "assistant", "user", "assistant"]
    assert loaded.messages[0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    panel.delete(conversation_id)
    panel.search.setText("")
    assert panel.list.count() == 1
    assert not any((tmp_path / "data" / "media").iterdir())  # the picture went with its conversation


def test_earlier_turns_sent_follow_the_history_setting_without_old_reasoning(qtbot, open_window):
    engine = ScriptedEngine(default="<think>hmm</think>ok", family="glm-4.6v")
    window = open_window(engine, history_turns=1)
    for question in ("one", "two", "three"):
        window.session.send(question)
        _wait_idle(qtbot, window)
    sent = engine.history[-1].messages
    assert [m["content"] for m in sent] == ["two", "ok", "three"]
    assert not any("reasoning_content" in m for m in sent)


def test_settings_round_trip_and_the_key_stays_out_of_the_history(qtbot, open_window, tmp_path):
    settings = DesktopSettings(
        engine="api",
        api_url="http://127.0.0.1:9/v1",
        api_key="sk-secret-123",
        model="glm-4.6v",
        temperature=0.3,
        top_k=2,
        enable_thinking=False,
        thinking_budget=512,
        history_turns=2,
        hotkeys={"region_screenshot": "Ctrl+Alt+R"},
        record_fps=3,
        theme="dark",
    )
    folder = tmp_path / "config"
    save_settings(settings, folder)
    assert load_settings(folder) == settings.with_(
        hotkeys={**DesktopSettings().hotkeys, "region_screenshot": "Ctrl+Alt+R"}
    )
    credentials = folder / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert "sk-secret" not in (folder / "settings.json").read_text()

    window = open_window(ScriptedEngine(default="fine", family="glm-4.6v"))
    window.change_settings(load_settings(folder))
    assert window.actions_by_name["region_screenshot"].shortcut().toString() == "Ctrl+Alt+R"
    window.session.send("hello")
    _wait_idle(qtbot, window)
    assert engine_settings(window) == {
        "temperature": 0.3,
        "top_k": 2,
        "enable_thinking": False,
        "thinking_budget": 512,
    }
    window.close()
    assert b"sk-secret" not in (tmp_path / "data" / "history.sqlite3").read_bytes()


def engine_settings(window) -> dict:
    request = window.session.engine.history[-1]
    return {
        key: getattr(request, key) for key in ("temperature", "top_k", "enable_thinking", "thinking_budget")
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"theme": "neon"}', "theme"),
        ('{"colour": 1}', "unknown setting 'colour'"),
        ('{"max_tokens": "many"}', "max_tokens"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_broken_settings_file_is_refused_with_its_name(tmp_path, text, problem):
    (tmp_path / "settings.json").write_text(text)
    with pytest.raises(ConfigError, match=problem) as caught:
        load_settings(tmp_path)
    assert "settings.json" in str(caught.value)


def _screen_pattern() -> Image.Image:
    image = Image.new("RGB", (800, 600), "black")
    image.paste((255, 0, 0), (200, 100, 400, 250))
    return image


def test_the_region_overlay_selects_the_dragged_rectangle(qtbot):
    overlay = RegionOverlay(_screen_pattern())
    overlay.setGeometry(0, 0, 400, 300)  # shown at half size: a HiDPI screen
    qtbot.addWidget(overlay)
    overlay.start()
    with _signal(overlay.selected) as chosen:
        qtbot.mousePress(overlay, Qt.MouseButton.LeftButton, pos=QPoint(100, 50))
        qtbot.mouseMove(overlay, QPoint(150, 90))
        qtbot.mouseRelease(overlay, Qt.MouseButton.LeftButton, pos=QPoint(200, 125))
    region = chosen.args[0]
    assert region == Region(200, 100, 200, 150)
    crop = overlay.crop(region)
    assert crop.size == (200, 150) and crop.getcolors() == [(200 * 150, (255, 0, 0))]


def test_escape_cancels_the_region_overlay(qtbot):
    overlay = RegionOverlay(_screen_pattern())
    qtbot.addWidget(overlay)
    overlay.start()
    with _signal(overlay.cancelled):
        qtbot.keyClick(overlay, Qt.Key.Key_Escape)


def test_a_region_of_no_area_is_a_message_and_nothing_is_attached(qtbot, open_window):
    window = open_window(ScriptedEngine(family="glm-4.6v"), grab=lambda region: _screen_pattern())
    with _signal(window.capturer.overlay_shown) as shown:
        window.capturer.region_screenshot()
    overlay = shown.args[0]
    with _signal(overlay.empty):
        qtbot.mouseClick(overlay, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    notices = [label.text() for label in window.panel.chat.findChildren(QLabel, "notice")]
    assert any("it has no area" in text for text in notices)
    assert window.isVisible() and window.session.pending == []


def test_a_region_screenshot_lands_as_an_attachment_and_the_windows_come_back(qtbot, open_window):
    window = open_window(ScriptedEngine(family="glm-4.6v"), grab=lambda region: _screen_pattern())
    window.toggle_floating()
    capturer: Capturer = window.capturer
    with _signal(capturer.overlay_shown) as shown:
        window.actions_by_name["region_screenshot"].trigger()
    assert not window.isVisible() and not window.floating.isVisible()
    overlay = shown.args[0]
    overlay.setGeometry(0, 0, 800, 600)
    with _signal(capturer.captured) as captured:
        qtbot.mousePress(overlay, Qt.MouseButton.LeftButton, pos=QPoint(200, 100))
        qtbot.mouseRelease(overlay, Qt.MouseButton.LeftButton, pos=QPoint(400, 250))
    assert Image.open(captured.args[0]).getcolors() == [(200 * 150, (255, 0, 0))]
    assert window.isVisible() and window.floating.isVisible()
    assert len(window.session.pending) == 1 and window.panel.tray.isVisible()


def test_a_screen_that_cannot_be_read_is_a_message_in_the_window(qtbot, open_window):
    from glmv.errors import MediaError

    def no_screen(region):
        raise MediaError("Cannot read the screen (no display).")

    window = open_window(ScriptedEngine(family="glm-4.6v"), grab=no_screen)
    window.capturer.screenshot()
    _until(window.isVisible)
    notices = window.panel.chat.findChildren(QLabel, "notice")
    assert any("Cannot read the screen" in label.text() for label in notices)
    assert window.session.pending == []


def test_a_corrupt_attachment_is_refused_and_nothing_is_lost(qtbot, open_window, tmp_path, picture):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    broken_pdf = tmp_path / "broken.pdf"
    broken_pdf.write_bytes(b"%PDF-1.7 truncated")
    window = open_window(ScriptedEngine(family="glm-4.6v"))
    window.session.attach([picture])
    window.panel.composer.setPlainText("draft")
    assert window.session.attach([broken]) == 0
    window.session.attach([broken_pdf])
    _until(lambda: not window.session.rendering)
    notices = [label.text() for label in window.panel.chat.findChildren(QLabel, "notice")]
    assert any("Not attached" in text and "broken.png" in text for text in notices)
    assert any("Not attached" in text and "broken.pdf" in text for text in notices)
    assert len(window.session.pending) == 1 and window.panel.composer.toPlainText() == "draft"


def test_an_unreachable_engine_gives_the_question_back(qtbot, open_window, picture):
    engine = open_engine(f"http://127.0.0.1:{free_port()}/v1", model="glm-4.6v", timeout=5)
    window = open_window(engine)
    window.session.attach([picture])
    window.panel.composer.setPlainText("Is anyone there?")
    window.panel.send()
    _wait_idle(qtbot, window)
    notices = [label.text() for label in window.panel.chat.findChildren(QLabel, "notice")]
    assert any("Cannot reach" in text for text in notices)
    assert window.panel.composer.toPlainText() == "Is anyone there?"
    assert len(window.session.pending) == 1 and window.session.conversation.messages == []


def test_closing_mid_stream_cancels_the_generation(qtbot, open_window):
    engine = ScriptedEngine([LONG_REPLY], family="glm-4.6v", delay=0.01)
    window = open_window(engine)
    window.session.send("Go on.")
    _until(lambda: window.panel.chat.live is not None and bool(window.panel.chat.live.reasoning_text))
    window.close()
    _until(lambda: engine.cancelled == 1)
    assert engine.completed == 0


def test_a_pasted_image_is_attached_and_an_attachment_can_be_removed(qtbot, open_window, picture):
    window = open_window(ScriptedEngine(default="ok", family="glm-4.6v"))
    pasted = QImage(64, 48, QImage.Format.Format_RGB32)
    pasted.fill(Qt.GlobalColor.blue)
    data = QMimeData()
    data.setImageData(pasted)
    window.panel.composer.insertFromMimeData(data)
    window.session.attach([picture])
    assert [item.attachment.kind for item in window.session.pending] == ["image", "image"]
    assert Image.open(window.session.pending[0].attachment.label).getpixel((5, 5)) == (0, 0, 255)
    close_buttons = window.panel.tray.chips[0].findChildren(QToolButton)
    close_buttons[0].click()
    assert [item.attachment.label for item in window.session.pending] == [str(picture)]
    window.session.send("Describe.")
    _wait_idle(qtbot, window)
    parts = engine_parts(window)
    assert parts == [str(picture)]


def engine_parts(window) -> list[str]:
    content = window.session.engine.history[-1].messages[-1]["content"]
    return [part["image_url"]["url"] for part in content if part["type"] == "image_url"]


def test_an_html_answer_opens_in_the_preview(qtbot, open_window):
    window = open_window(
        ScriptedEngine(["<!DOCTYPE html>\n<html><body><h1>Hi</h1></body></html>"], family="glm-4.6v")
    )
    window.session.send("Make a page.")
    _wait_idle(qtbot, window)
    answer = window.panel.chat.answers()[-1]
    assert answer.html_button.isVisible()
    answer.html_button.click()
    (preview,) = window.findChildren(HtmlPreview)
    assert preview.isVisible() and preview.view.toPlainText().strip() == "Hi"
    assert "<h1>Hi</h1>" in preview.html


def test_a_history_folder_that_cannot_be_written_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="Cannot open the history"):
        History(blocker / "sub")


def test_a_long_session_does_not_run_out_of_references_to_none(tmp_path):
    """Some PySide6 wheels drop a reference to None on every void Qt call (Python < 3.12); the window must outlive
    far more calls than None has references at start (pyproject excludes PySide6 6.12.0, which has the bug)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication, QLabel\n"
        "from glmv.desktop import DesktopSettings, build_window\n"
        "from glmv.engine import ScriptedEngine\n"
        "app = QApplication([])\n"
        "calls = sys.getrefcount(None) * 3\n"
        f"window = build_window(ScriptedEngine(), DesktopSettings(family='glm-4.6v'), {str(tmp_path)!r})\n"
        "label, timer = QLabel(), QTimer()\n"
        "for i in range(calls):\n"
        "    label.setText('x')\n"
        "    timer.timeout.emit()\n"
        "print('alive')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "alive" in done.stdout, done.stderr[-2000:]


def test_a_pdf_is_attached_as_its_page_images_with_their_cost(qtbot, open_window, tmp_path):
    pages = [Image.new("RGB", (595, 842), colour) for colour in ("white", "yellow")]
    pdf = tmp_path / "report.pdf"
    pages[0].save(pdf, save_all=True, append_images=pages[1:])
    window = open_window(ScriptedEngine(default="Two pages.", family="glm-4.6v"))
    assert window.session.attach([pdf]) == 1
    assert not window.session.send("Too early.")  # a question waits for its document
    _until(lambda: bool(window.session.pending))
    (pending,) = window.session.pending
    assert pending.attachment.kind == "file" and len(pending.attachment.parts) == 2
    assert pending.tokens > 0 and f"{pending.tokens:,} image tokens" in window.panel.tray.total.text()
    window.session.send("Summarise.")
    _wait_idle(qtbot, window)
    sent = engine_parts(window)
    assert len(sent) == 2 and all(url.startswith("data:image/png;base64,") for url in sent)


def test_a_recording_that_hits_its_cap_is_attached_with_a_message(qtbot, open_window):
    frames = iter(range(10_000))

    def moving(region):
        image = Image.new("RGB", (320, 240), "black")
        x = next(frames) * 20 % 300
        image.paste((255, 255, 255), (x, 100, x + 20, 140))
        return image

    window = open_window(
        ScriptedEngine(family="glm-4.6v"),
        grab=moving,
        record_fps=4,
        record_max_seconds=1,
        record_max_width=160,
    )
    with _signal(window.capturer.recording_changed):
        window.actions_by_name["record"].trigger()
    assert (
        window.capturer.indicator.isVisible() and window.actions_by_name["record"].text() == "Stop recording"
    )
    with _signal(window.capturer.captured) as captured:
        pass
    assert captured.args[0].endswith(".mp4") and window.isVisible()
    (pending,) = window.session.pending
    assert pending.attachment.kind == "video" and pending.tokens > 0
    notices = [label.text() for label in window.panel.chat.findChildren(QLabel, "notice")]
    assert any("stopped at its cap of 1 s" in text for text in notices)
    import av

    with av.open(captured.args[0]) as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == 4 and (decoded[0].width, decoded[0].height) == (160, 120)


def test_the_floating_window_toggles_and_stays_on_top(qtbot, open_window):
    window = open_window(ScriptedEngine(default="Hi there.", family="glm-4.6v"))
    window.actions_by_name["toggle_floating"].trigger()
    floating = window.floating
    assert floating.isVisible() and floating.on_top
    floating.pin.click()
    assert not floating.on_top and floating.isVisible()
    floating.panel.composer.setPlainText("hello from the corner")
    floating.panel.send()
    _wait_idle(qtbot, window)
    assert window.panel.chat.answers()[-1].content_text == "Hi there."  # one conversation, both windows
    assert floating.panel.chat.answers()[-1].content_text == "Hi there."
    window.actions_by_name["toggle_floating"].trigger()
    assert not floating.isVisible()


def test_glmv_desktop_without_a_display_says_what_to_do(tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run(
        [sys.executable, "-m", "glmv", "desktop", "--config-dir", str(tmp_path), "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "No display" in done.stderr and "Xvfb" in done.stderr and "Traceback" not in done.stderr


def test_the_settings_dialog_gives_back_what_it_was_given_and_what_was_changed(qtbot):
    from glmv.desktop.settings_dialog import SettingsDialog

    settings = DesktopSettings(
        engine="api",
        api_url="http://127.0.0.1:8000/v1",
        api_key="k",
        temperature=0.3,
        top_k=2,
        thinking_budget=64,
    )
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    assert dialog.result_settings() == settings
    dialog.temperature.setValue(dialog.temperature.minimum())  # back to "model default"
    dialog.thinking.setCurrentText("off")
    dialog.record_fps.setValue(12)
    changed = dialog.result_settings()
    assert (changed.temperature, changed.enable_thinking, changed.record_fps) == (None, False, 12)


class _Drop:
    """What a drop event carries (QDropEvent cannot be built without a drag in progress offscreen)."""

    def __init__(self, data: QMimeData) -> None:
        self.data, self.accepted = data, False

    def mimeData(self) -> QMimeData:
        return self.data

    def acceptProposedAction(self) -> None:
        self.accepted = True


def test_dropped_files_are_attached(qtbot, open_window, picture, tmp_path):
    from PySide6.QtCore import QUrl

    from glmv.desktop.recording import ScreenRecorder

    video = tmp_path / "clip.mp4"
    recorder = ScreenRecorder(
        video, fps=2, max_seconds=1, grab=lambda region: Image.new("RGB", (64, 48), "red")
    )
    recorder.start()
    recorder.wait(10)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(picture)), QUrl.fromLocalFile(str(video))])
    window = open_window(ScriptedEngine(family="glm-4.6v"))
    event = _Drop(data)
    window.dropEvent(event)
    assert event.accepted
    assert [item.attachment.kind for item in window.session.pending] == ["image", "video"]
    assert len(window.panel.tray.chips) == 2


def test_code_in_an_answer_is_highlighted(qtbot, open_window):
    reply = "Here:\n\n```python\ndef area(r):\n    return 3.14 * r * r\n```\n\nDone."
    window = open_window(ScriptedEngine([reply], family="glm-4.6v"))
    window.session.send("Code?")
    _wait_idle(qtbot, window)
    document = window.panel.chat.answers()[-1].answer.document()
    block = document.findBlock(document.find("def area").position())
    ranges = block.layout().formats()
    keyword = next(r for r in ranges if r.start == 0)  # "def"
    assert keyword.length == 3 and keyword.format.foreground().color().name() != "#000000"
    plain = document.findBlock(document.find("Done").position())
    assert not plain.layout().formats()
    answer = window.panel.chat.answers()[-1]
    assert answer.code_button.isVisible()
    answer.code_button.click()
    assert QApplication.clipboard().text() == "def area(r):\n    return 3.14 * r * r"


def test_a_region_recording_stops_on_the_indicator_and_keeps_the_region_size(qtbot, open_window):
    grabbed: list = []

    def grab(region):
        grabbed.append(region)
        return _screen_pattern() if region is None else Image.new("RGB", (region.width, region.height), "red")

    window = open_window(ScriptedEngine(family="glm-4.6v"), grab=grab, record_fps=5, record_max_seconds=30)
    with _signal(window.capturer.overlay_shown) as shown:
        window.actions_by_name["record_region"].trigger()
    overlay = shown.args[0]
    overlay.setGeometry(0, 0, 800, 600)
    with _signal(window.capturer.recording_changed):
        qtbot.mousePress(overlay, Qt.MouseButton.LeftButton, pos=QPoint(101, 50))
        qtbot.mouseRelease(overlay, Qt.MouseButton.LeftButton, pos=QPoint(302, 171))
    assert grabbed[-1] == Region(101, 50, 200, 120)  # made even for the encoder
    _pump(0.6)
    with _signal(window.capturer.captured) as captured:
        window.capturer.indicator.stop_button.click()
    import av

    with av.open(captured.args[0]) as container:
        frames = list(container.decode(video=0))
    assert 2 <= len(frames) <= 6 and (frames[0].width, frames[0].height) == (200, 120)
    assert window.session.pending[0].attachment.kind == "video"
    assert not any("cap" in label.text() for label in window.panel.chat.findChildren(QLabel, "notice"))
