"""The verifier registry: ``verifier_type`` → verifier class.

Built-in verifiers are registered exactly the way third-party ones are: a ``name = "module:Class"`` reference
resolved on first use. Third parties publish theirs under the entry-point group ``glmv.verifiers``
(``[project.entry-points."glmv.verifiers"] my_task = "my_pkg.verifiers:MyVerifier"``) or call
:func:`register_verifier`. A verifier class subclasses :class:`~glmv.reward.verifiers.base.Verifier` and names
its config dataclass in ``config_class``. Lookups ignore case, as the official factory does.
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points
from typing import Any

from glmv.errors import ConfigError

__all__ = ["ENTRY_POINT_GROUP", "available_verifiers", "get_verifier", "register_verifier", "verifier_class"]

ENTRY_POINT_GROUP = "glmv.verifiers"

_BUILTINS = {
    "math": "glmv.reward.verifiers.stem:MathVerifier",
    "physics": "glmv.reward.verifiers.stem:PhysicsVerifier",
    "chemistry": "glmv.reward.verifiers.stem:ChemistryVerifier",
    "biology": "glmv.reward.verifiers.stem:BiologyVerifier",
    "geography": "glmv.reward.verifiers.stem:GeographyVerifier",
    "liberal_arts": "glmv.reward.verifiers.stem:LiberalArtsVerifier",
    "vqa": "glmv.reward.verifiers.perception:VqaVerifier",
    "ocr": "glmv.reward.verifiers.perception:OcrVerifier",
    "chart": "glmv.reward.verifiers.perception:ChartVerifier",
    "counting": "glmv.reward.verifiers.perception:CountingVerifier",
    "mmsi": "glmv.reward.verifiers.perception:MmsiVerifier",
    "multi_image": "glmv.reward.verifiers.perception:MultiImageVerifier",
    "general": "glmv.reward.verifiers.llm:GeneralVerifier",
    "geoquest": "glmv.reward.verifiers.llm:GeoquestVerifier",
    "long_doc": "glmv.reward.verifiers.llm:LongDocVerifier",
    "language_mix": "glmv.reward.verifiers.language:LanguageMixVerifier",
    "file_based": "glmv.reward.verifiers.files:FileBasedVerifier",
    "androidworld": "glmv.reward.verifiers.files:AndroidWorldVerifier",
    "osworld": "glmv.reward.verifiers.files:OSWorldVerifier",
    "webvoyager": "glmv.reward.verifiers.files:WebVoyagerVerifier",
}

_registry: dict[str, Any] = {}  # name → class, or "module:Class" not yet imported
_lock = threading.Lock()
_loaded = False


def register_verifier(name: str, verifier: Any) -> None:
    """Register a verifier class (or a ``"module:Class"`` reference) under ``name`` (case-insensitive)."""
    with _lock:
        _registry[name.lower()] = verifier


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for name, target in _BUILTINS.items():
        register_verifier(name, target)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        register_verifier(entry.name, entry.value)
    _loaded = True


def available_verifiers() -> list[str]:
    """Every registered ``verifier_type`` (lower case)."""
    _load_all()
    return sorted(_registry)


def verifier_class(verifier_type: str, *, where: str = "verifier_type") -> Any:
    """The class registered for ``verifier_type``; :class:`ConfigError` naming ``where`` if there is none."""
    _load_all()
    key = verifier_type.lower()
    target = _registry.get(key)
    if target is None:
        raise ConfigError(
            f"{where}: unknown verifier type '{verifier_type}'. Known types: {', '.join(available_verifiers())}."
        )
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        try:
            target = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"{where}: verifier '{verifier_type}' ({module}:{attr}) cannot be loaded: {exc}"
            ) from exc
        register_verifier(key, target)
    return target


def get_verifier(verifier_type: str, **config: Any) -> Any:
    """Build one verifier from keyword settings with the official defaults.

    The LLM fallback is off unless a judge (``llm_judge_url`` and a prompt template) is given. Extra keyword
    ``services`` (a :class:`~glmv.reward.verifiers.base.Services`) and ``name`` are passed to the verifier.
    """
    from glmv.reward.config import parse_verifier_config

    services = config.pop("services", None)
    name = config.pop("name", verifier_type)
    parsed = parse_verifier_config(name, {"verifier_type": verifier_type, **config})
    return verifier_class(verifier_type)(parsed, services=services, name=name)
