"""What is in front on an Android device, read from ``dumpsys`` output: the app and activity, or the system window.

:func:`foreground_of` reads ``dumpsys window windows`` (``mCurrentFocus=Window{… u0 package/activity}``, else
``mFocusedApp=…ActivityRecord{… package/activity t12}``) or ``dumpsys activity activities``
(``topResumedActivity=``, ``ResumedActivity:``, ``mResumedActivity:``) and returns a :class:`Foreground`: the
package, the activity (short names like ``.Settings`` expanded), and the window's own name when the focus is a
system window with no app (``StatusBar``, ``NotificationShade``, an "Application Not Responding" dialog). Shapes
differ across Android versions (4.4 writes no ``u0``, 9 nests ``AppWindowToken{… ActivityRecord{…}}``, 12+ adds
``ResumedActivity``); a line that names nothing (``mCurrentFocus=null``) falls through to the next source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Foreground", "foreground_of"]

# One record's body: `Window{hash u0 NAME}` or `ActivityRecord{hash u0 package/activity t12}` (u0 absent before 4.2).
_RECORD = re.compile(
    r"(?:Window|ActivityRecord)\{[0-9a-f]+ (?:u\d+ )?(?P<name>[^{}]*?)(?: t-?\d+)?(?: [a-z]+=\S+)*\}"
)
_COMPONENT = re.compile(r"^(?P<package>[A-Za-z][\w.]*)/(?P<activity>[\w.$]+)$")
# Where each source says what is focused, most precise first.
_FOCUS_KEYS = (
    "mCurrentFocus",
    "mFocusedWindow",
    "topResumedActivity",
    "ResumedActivity",
    "mResumedActivity",
    "mFocusedApp",
)


@dataclass(frozen=True)
class Foreground:
    """The focused app (``package``, ``activity`` in full) or system window (``window``, no package)."""

    package: str = ""
    activity: str = ""
    window: str = ""

    @property
    def title(self) -> str:
        """``package/activity`` for an app, the window's name for a system window."""
        return f"{self.package}/{self.activity}" if self.package else self.window


def _parse_name(name: str) -> Foreground | None:
    name = name.strip()
    if not name or name == "null":
        return None
    component = _COMPONENT.match(name)
    if component is None:
        return Foreground(window=name)
    package, activity = component["package"], component["activity"]
    if activity.startswith("."):
        activity = package + activity
    return Foreground(package, activity)


def foreground_of(*outputs: str) -> Foreground | None:
    """The foreground named by the first of ``outputs`` (``dumpsys`` texts) that names one; None when none does."""
    for output in outputs:
        for key in _FOCUS_KEYS:
            for line in output.splitlines():
                given = re.match(rf"\s*{key}\s*[=:]\s*(.*)", line)
                if given is None:
                    continue
                records = _RECORD.findall(given[1])
                # A nested token (Android 9's mFocusedApp) names the activity in its innermost record.
                found = _parse_name(records[-1]) if records else None
                if found is not None:
                    return found
    return None
