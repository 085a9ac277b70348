"""The web UI: a Gradio chat page over any :class:`~glmv.engine.Engine` (``glmv web``).

``create_app(engine, settings)`` builds the page as ``gradio.Blocks`` (nothing is built at import time);
:func:`launch` serves it with glmv's limits and :func:`mount_app` mounts it in a FastAPI app (``glmv serve
--web``). :class:`WebSettings` holds the limits and the controls' starting values. Gradio (extra ``web``) is
imported only when one of these is first used.
"""

from importlib import import_module
from typing import Any

from glmv.web.settings import WebSettings

__all__ = ["WebSettings", "create_app", "launch", "mount_app"]

_LAZY = {"create_app": "glmv.web.app", "launch": "glmv.web.serving", "mount_app": "glmv.web.serving"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from glmv.errors import require

        require("gradio", extra="web", purpose="the web UI")
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
