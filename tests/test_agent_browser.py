"""The browser executor on the system Chromium, driven through the agent loop by scripted GLM web replies over pages
a local server serves on 127.0.0.1: fill and submit a form, scroll a long list to find an item, press keys, follow
a link (and a new tab), click by set-of-marks label; the gates ask before a password is typed or a form submitted,
and refuse to leave the allowed domains. One browser serves the whole module."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from glmv.agent import Agent, AgentSettings, Recorder, SafetyGate
from glmv.engine.scripted import ScriptedEngine

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

PAGES = {
    "/search": """<title>Shop</title><form action="/results"><input name="q" placeholder="Search products">
        <label><input type="checkbox" name="express"> Express</label><button type="submit">Search</button></form>""",
    "/login": """<title>Login</title><form action="/welcome" method="get"><input name="user" placeholder="User">
        <input type="password" name="password" placeholder="Password"><button type="submit">Sign in</button></form>""",
    "/list": "<title>List</title><style>button{display:block;height:40px;margin:0}</style>"
    + "".join(
        f"<button onclick=\"document.title='picked '+this.innerText\">Item {i}</button>" for i in range(80)
    ),
    "/keys": """<title>Keys</title><div id="log"></div><script>
        document.addEventListener('keydown', e => { document.getElementById('log').textContent += e.key + ','; });
        </script>""",
    "/links": """<title>Links</title><a href="/target">Go to the target</a><br>
        <a href="/target?tab=1" target="_blank">Open in a new tab</a><br><a href="http://shop.example.invalid/">Elsewhere</a>""",
    "/target": "<title>Target</title><h1>You made it</h1>",
    "/files": '<title>Files</title><a href="/report.txt">Download the report</a>',
    "/colours": """<title>Colours</title><p id="result">none</p>
        <button onclick="result.textContent='Red'">Red</button><button onclick="result.textContent='Green'">Green</button>
        <button onclick="result.textContent='Blue'">Blue</button>""",
}


class _Pages(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        _Pages.seen.append(self.path)
        if parts.path in ("/results", "/welcome"):
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            body = f"<title>{parts.path[1:]}</title><p id='query'>{sorted(query.items())}</p>"
        else:
            body = PAGES.get(parts.path)
        if parts.path == "/report.txt":
            data = b"quarterly numbers\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Disposition", 'attachment; filename="report.txt"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from glmv.agent.executors.browser import BrowserExecutor

    executor = BrowserExecutor(
        width=800, height=600, wait_seconds=0.05, downloads=tmp_path_factory.mktemp("dl")
    )
    yield executor
    executor.close()


def web(action: str, thought: str = "Next step.") -> str:
    """A GLM-4.5V web reply."""
    return f"<think>Looking at the labels.</think>Thought: {thought}\nAction: {action}\nMemory_Updated: {{}}"


def _agent(browser, replies, **options) -> Agent:
    return Agent(ScriptedEngine(replies, family="glm-4.5v"), browser, "Do the task", **options)


def _labels(browser) -> list[str]:
    return [mark.describe() for mark in browser.observe().marks]


def test_fill_and_submit_a_form_asks_before_submitting(browser, site):
    browser.goto(f"{site}/search")
    assert _labels(browser) == [
        '[0]: <input> "Search products";',
        '[1]: <input type="checkbox"> "Express";',
        '[2]: <button> "Search";',
    ]
    questions = []
    gate = SafetyGate("risky", ask=lambda question: questions.append(question) or True)
    result = _agent(
        browser,
        [web("Click [1]"), web("Type [0]; [blue mug]"), web("ANSWER; <content>ok</content>")],
        gate=gate,
    ).run()
    assert result.status == "answered"
    assert urlsplit(browser.page.url).path == "/results"
    assert browser.page.inner_text("#query") == "[('express', 'on'), ('q', 'blue mug')]"
    assert len(questions) == 1 and "submits a form" in questions[0]  # the checkbox click did not ask


def test_password_typing_asks_and_a_refusal_skips_the_step(browser, site):
    browser.goto(f"{site}/login")
    assert _labels(browser)[1] == '[1]: <input type="password"> "Password";'
    questions = []
    gate = SafetyGate("risky", ask=lambda question: questions.append(question) or False)
    replies = [web("Type [1]; [hunter2]"), web("Click [2]"), web("ANSWER; <content>stopped</content>")]
    result = _agent(browser, replies, gate=gate).run()
    assert [record["status"] for record in result.records] == ["refused", "refused", "done"]
    assert "password field" in questions[0] and "submitting a form" in questions[1]
    assert urlsplit(browser.page.url).path == "/login"  # nothing was submitted
    assert browser.page.input_value("input[type=password]") == ""
    gate = SafetyGate("risky", ask=lambda question: True)
    _agent(browser, [web("Type [1]; [hunter2]"), web("ANSWER; <content>in</content>")], gate=gate).run()
    assert browser.page.inner_text("#query") == "[('password', 'hunter2')]"


def test_scroll_a_long_list_to_find_an_item(browser, site):
    browser.goto(f"{site}/list")

    class Looking:
        """Reads the element list of each prompt: clicks "Item 57" once it is labelled, else scrolls down."""

        family = ScriptedEngine().family
        scrolls = 0

        def generate(self, request):
            prompt = request.messages[0]["content"][1]["text"]
            found = re.search(r'\[(\d+)\]: <button> "Item 57";', prompt)
            if "picked Item 57" in browser.page.title():
                reply = web("ANSWER; <content>found</content>")
            elif found:
                reply = web(f"Click [{found[1]}]")
            else:
                Looking.scrolls += 1
                reply = web("Scroll [WINDOW]; [down]")
            return ScriptedEngine([reply], family="glm-4.5v").generate(request)

    result = Agent(Looking(), browser, "Pick item 57", settings=AgentSettings(max_steps=12)).run()
    assert result.status == "answered"
    assert browser.page.title() == "picked Item 57"
    assert 3 <= Looking.scrolls <= 8  # item 57 starts 2280 px down a 600 px viewport
    assert browser.page.evaluate("window.scrollY") > 1500


def test_keys_are_pressed(browser, site):
    from glmv.actions import Action

    browser.goto(f"{site}/keys")
    _agent(browser, [web("Key; [Return]"), web("Key; [Escape]"), web("ANSWER; <content>ok</content>")]).run()
    browser.act(Action("key", keys=("ctrl", "a"), space="pixels"))
    assert browser.page.inner_text("#log") == "Enter,Escape,Control,a,"


def test_follow_a_link_and_a_new_tab(browser, site):
    browser.goto(f"{site}/links")
    result = _agent(
        browser, [web("Click [0]"), web("GoBack"), web("Click [1]"), web("ANSWER; <content>ok</content>")]
    ).run()
    notes = [record["observation"]["note"] for record in result.records]
    assert [record["observation"]["url"].removeprefix(site) for record in result.records[:3]] == [
        "/target",
        "/links",
        "/target?tab=1",
    ]
    assert "a new tab opened" in notes[2]
    assert browser.page.title() == "Target"


def test_leaving_the_allowed_domains_is_refused_without_asking(browser, site):
    browser.goto(f"{site}/links")
    gate = SafetyGate("never", allow_domains=["127.0.0.1"])
    result = _agent(
        browser, [web("Click [2]"), web("Bing"), web("ANSWER; <content>no</content>")], gate=gate
    ).run()
    assert [record["status"] for record in result.records[:2]] == ["refused", "refused"]
    assert "shop.example.invalid" in result.records[0]["gate"]["risk"]
    assert urlsplit(browser.page.url).path == "/links"
    assert not any("example.invalid" in path for path in _Pages.seen)


def test_click_by_label_with_marks_drawn_and_a_missing_label_observed(browser, site, tmp_path):
    browser.goto(f"{site}/colours")
    observation = browser.observe()
    blue = observation.mark(2)
    assert blue.text == "Blue"
    replies = [web("Click [9]"), web("Click [2]"), web("ANSWER; <content>Blue</content>")]
    result = _agent(browser, replies, recorder=Recorder(tmp_path / "run")).run()
    assert browser.page.inner_text("#result") == "Blue"
    assert result.records[0]["status"] == "error"
    assert "no element labelled [9]" in result.records[0]["observation"]["note"]
    seen = Image.open(tmp_path / "run" / "screenshots" / "step-002.png").convert("RGB")
    x1, y1, _, y2 = (round(v) for v in blue.box)
    assert seen.getpixel((x1 + 1, (y1 + y2) // 2)) != observation.screenshot.getpixel(
        (x1 + 1, (y1 + y2) // 2)
    ), "the label outline is drawn on what the model saw"
    # replay the record on the same page, reloaded: the failed step fails again, the click lands again
    from glmv.agent import replay

    browser.goto(f"{site}/colours")
    replayed = replay(tmp_path / "run", browser)
    assert [(step.step, step.error is None) for step in replayed] == [(1, False), (2, True)]
    assert browser.page.inner_text("#result") == "Blue"


def test_a_download_is_saved_and_noted(browser, site):
    browser.goto(f"{site}/files")
    result = _agent(browser, [web("Click [0]"), web("Wait"), web("ANSWER; <content>saved</content>")]).run()
    notes = " ".join(record["observation"]["note"] for record in result.records)
    assert "downloaded report.txt" in notes
    assert (browser.downloads / "report.txt").read_text() == "quarterly numbers\n"


def test_a_missing_chromium_names_the_package(tmp_path):
    from glmv.agent.executors.browser import find_chromium
    from glmv.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError, match="apt-get install chromium"):
        find_chromium(str(tmp_path / "no-such-browser"))
