"""The safety gate: which actions ask the user first, and the domains a browser may go to.

``--confirm`` policies (:data:`CONFIRM_POLICIES`): ``never`` asks nothing, ``always`` asks before every action,
``risky`` (the default) asks before

- typing into a password field (the browser tells them; the X11 and Android executors cannot, so there only
  ``always`` guards typing),
- a destructive key or hotkey (:data:`DESTRUCTIVE_KEYS`: delete, ``ctrl+w``, ``alt+f4``, ``ctrl+shift+delete``, …),
- a hotkey that opens a terminal or a run-command prompt (:data:`SHELL_KEYS`: ``ctrl+alt+t``, ``alt+f2``,
  ``super+r``, …), or opening a terminal app on a phone (Termux, …): typed text would run as a shell command,
  so this is never silent either — under ``never`` it is refused,
- submitting a form (clicking a submit button; a web ``Type``, which presses Enter; Enter in a form field),
- opening the app store on a phone (``open_app`` of Google Play: where apps are installed and deleted; the
  agent has no install or uninstall action, and the android executor runs only input, screencap and launcher
  commands).

Leaving the allowed domains (``--allow-domain``, the browser only) is never silent: under ``risky`` / ``always`` it
asks, under ``never`` it is refused. A refusal skips the step; the model is told. The gate never runs anything: the
agent has no shell action at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from glmv.actions import Action
from glmv.agent.executors.base import Target
from glmv.errors import ConfigError

__all__ = ["CONFIRM_POLICIES", "DESTRUCTIVE_KEYS", "SHELL_KEYS", "Decision", "SafetyGate", "domain_allowed"]

CONFIRM_POLICIES = ("never", "risky", "always")

DESTRUCTIVE_KEYS = frozenset(
    {
        ("delete",),
        ("shift", "delete"),
        ("ctrl", "shift", "delete"),
        ("ctrl", "w"),
        ("ctrl", "q"),
        ("alt", "f4"),
        ("ctrl", "alt", "delete"),
        ("ctrl", "alt", "backspace"),
        ("ctrl", "shift", "w"),
        ("ctrl", "shift", "q"),
        ("super", "l"),
    }
)
"""Key combinations that delete, close or log out (lower case, modifiers first, sorted as written)."""

SHELL_KEYS = frozenset(
    {
        ("ctrl", "alt", "t"),  # GNOME, Xfce, KDE: a terminal
        ("alt", "f2"),  # GNOME, KDE, Xfce: run a command
        ("alt", "f3"),  # KDE: KRunner
        ("super", "r"),  # Windows: Run
        ("super", "t"),  # some Linux desktops: a terminal
        ("super", "return"),  # tiling window managers: a terminal
        ("super", "enter"),
        ("ctrl", "alt", "return"),
    }
)
"""Key combinations that open a terminal or a run-command prompt: the agent has no shell, and these would give it one."""

_KEY_ALIASES = {
    "control": "ctrl",
    "del": "delete",
    "meta": "super",
    "cmd": "super",
    "win": "super",
    "option": "alt",
}
_MODIFIERS = ("ctrl", "alt", "shift", "super")
_APP_STORES = frozenset({"google play", "play store", "google play store"})
_TERMINAL_APPS = frozenset(
    {"termux", "com.termux", "terminal", "terminal emulator", "jackpal.androidterm", "com.android.terminal"}
)
_ENTER = frozenset({"enter", "return", "kp_enter"})


def _normal_keys(keys: Sequence[str]) -> tuple[str, ...]:
    names = [_KEY_ALIASES.get(key.strip().lower(), key.strip().lower()) for key in keys]
    modifiers = [name for name in _MODIFIERS if name in names]
    return (*modifiers, *[name for name in names if name not in _MODIFIERS])


def domain_allowed(url: str, domains: Sequence[str]) -> bool:
    """Whether ``url`` is on one of ``domains`` (or a subdomain); any URL when ``domains`` is empty.

    ``about:`` / ``data:`` pages and relative links stay where they are and are allowed.
    """
    if not domains or not url:
        return True
    parts = urlsplit(url)
    if parts.scheme in ("about", "data", "javascript", "blob") or (not parts.scheme and not parts.netloc):
        return True
    host = (parts.hostname or "").lower().rstrip(".")
    for domain in domains:
        wanted = domain.lower().strip().rstrip(".")
        if host == wanted or host.endswith("." + wanted):
            return True
    return False


@dataclass(frozen=True)
class Decision:
    """The gate's answer for one action: go ahead or not, why it asked (``risk``), whether the user was asked."""

    allowed: bool
    risk: str = ""
    asked: bool = False

    @property
    def note(self) -> str:
        if self.allowed:
            return f"confirmed by the user: {self.risk}" if self.asked else ""
        return f"refused ({self.risk}); the action was skipped"


class SafetyGate:
    """Decides, before each action, whether it may run; ``ask(question) -> bool`` asks the user.

    Without ``ask`` every question is answered no (a run with nobody at the terminal refuses risky actions).
    """

    def __init__(
        self,
        confirm: str = "risky",
        *,
        allow_domains: Sequence[str] = (),
        ask: Callable[[str], bool] | None = None,
    ) -> None:
        if confirm not in CONFIRM_POLICIES:
            raise ConfigError(f"--confirm must be one of {', '.join(CONFIRM_POLICIES)}, not {confirm!r}.")
        self.confirm = confirm
        self.allow_domains = tuple(domain for domain in allow_domains if domain.strip())
        self.ask = ask

    @staticmethod
    def opens_shell(action: Action) -> str:
        """Why ``action`` would give the agent a shell ("" when it would not)."""
        if action.kind == "key" and _normal_keys(action.keys) in SHELL_KEYS:
            keys = "+".join(_normal_keys(action.keys))
            return f"the key {keys}, which opens a terminal or a run-command prompt"
        if action.kind == "open_app" and (action.app or "").strip().lower() in _TERMINAL_APPS:
            return f"opening {action.app}, a terminal"
        return ""

    def risk_of(self, action: Action, target: Target, platform: str) -> str:
        """Why ``action`` is risky ("" when it is not)."""
        if action.kind == "type" and target.password:
            return "typing into a password field"
        if action.kind == "key":
            keys = _normal_keys(action.keys)
            if keys in DESTRUCTIVE_KEYS:
                return f"the destructive key {'+'.join(keys)}"
            if len(keys) == 1 and keys[0] in _ENTER and target.submits:
                return "pressing Enter submits a form"
        if action.kind == "click" and target.submits:
            return f"submitting a form ({target.description or 'a submit button'})"
        if action.kind == "open_app" and (action.app or "").strip().lower() in _APP_STORES:
            return f"opening {action.app}, where apps are installed and deleted"
        if action.kind == "type" and platform == "web" and target.submits:
            return "typing presses Enter, which submits a form"
        return ""

    def leaves_domains(self, target: Target) -> str:
        if target.url and not domain_allowed(target.url, self.allow_domains):
            return f"leaving the allowed domains for {target.url}"
        return ""

    def _ask(self, question: str) -> bool:
        return bool(self.ask(question)) if self.ask is not None else False

    def check(self, action: Action, target: Target, platform: str) -> Decision:
        """Whether ``action`` (touching ``target``) may run on ``platform``, asking the user where the policy says."""
        leaving = self.leaves_domains(target)
        if leaving:
            if self.confirm == "never":
                return Decision(False, leaving)
            return Decision(
                self._ask(f"The agent wants to go to {target.url} ({leaving}). Allow?"), leaving, True
            )
        shell = self.opens_shell(action)
        if shell:
            if self.confirm == "never":
                return Decision(False, shell)
            return Decision(self._ask(f"The agent wants to do something risky: {shell}. Allow?"), shell, True)
        risk = self.risk_of(action, target, platform)
        if self.confirm == "always":
            reason = risk or f"{action.kind} ({action.raw or action.name})"
            return Decision(self._ask(f"The agent wants to do: {reason}. Allow?"), reason, True)
        if risk and self.confirm == "risky":
            return Decision(self._ask(f"The agent wants to do something risky: {risk}. Allow?"), risk, True)
        return Decision(True, risk)
