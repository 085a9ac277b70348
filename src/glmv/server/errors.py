"""OpenAI-style error bodies and the one place glmv errors become HTTP statuses.

Every error the server returns has the OpenAI shape
``{"error": {"message": ..., "type": ..., "param": ..., "code": ...}}``:

=====================================  ======  ==========================
cause                                   status  type
=====================================  ======  ==========================
malformed JSON, bad media, bad request  400     invalid_request_error
wrong or missing API key                401     authentication_error
unknown model or path                   404     not_found_error
body or medium too large                413     invalid_request_error
invalid field values                    422     invalid_request_error
queue full                              429     rate_limit_error (+ Retry-After)
generation failed                       500     server_error
=====================================  ======  ==========================
"""

from __future__ import annotations

import math
from typing import Any

from glmv.errors import (
    ConfigError,
    EngineBusyError,
    FamilyError,
    GlmvError,
    MediaError,
    MediaTooLargeError,
    RequestError,
)

__all__ = ["ApiError", "error_body", "from_glmv_error", "from_validation_errors"]


class ApiError(Exception):
    """An error with its HTTP status, OpenAI error type, offending parameter and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.param, self.code)


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The OpenAI error JSON (text that is not valid Unicode, such as a lone surrogate a client sent and a
    message quotes, is escaped so the body can always be written)."""
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    if param is not None:
        param = param.encode("utf-8", "backslashreplace").decode("utf-8")
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def from_glmv_error(exc: GlmvError) -> ApiError:
    """The HTTP form of a glmv error."""
    message = str(exc)
    if isinstance(exc, EngineBusyError):
        seconds = max(1, math.ceil(exc.retry_after))
        return ApiError(
            429, message, type="rate_limit_error", code="queue_full", headers={"Retry-After": str(seconds)}
        )
    if isinstance(exc, MediaTooLargeError):
        return ApiError(413, message, code="media_too_large", param="messages")
    if isinstance(exc, MediaError):
        return ApiError(400, message, code="invalid_media", param="messages")
    if isinstance(exc, RequestError):
        return ApiError(400, message, param=exc.field)
    if isinstance(exc, (ConfigError, FamilyError)):
        return ApiError(400, message)
    return ApiError(500, message, type="server_error")


def _location(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if part == "body":
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def from_validation_errors(errors: list[dict[str, Any]]) -> ApiError:
    """A 422 naming every invalid field and what is wrong with it."""
    problems = [f"{_location(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in errors]
    first = _location(tuple(errors[0].get("loc", ()))) if errors else None
    return ApiError(422, "Invalid request: " + "; ".join(problems), param=first, code="invalid_fields")
