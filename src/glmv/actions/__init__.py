"""Typed GUI actions, shared by the reward system and the GUI agent.

``parse_action(reply, dialect=None)`` finds the one action in a model reply and returns an :class:`Action`
(kind, coordinates with their space, text, keys, …; see :mod:`glmv.actions.action` for the vocabulary);
``read_action(text, dialect)`` reads an action text already cut out of its reply; ``action_to_dict`` /
``action_from_dict`` write and read the JSON form agent trajectories record. A reply that holds no single complete
action raises :class:`ActionParseError`, naming the text — never a guess.

Dialects: ``glm-mobile`` (AndroidWorld-style JSON with ``box_2d``), ``glm-pc`` (OSWorld / Ubuntu function
calls), ``glm-web`` (WebVoyager set-of-marks labels), ``glm-web-point`` (the WebVoyager verifier's point
grammar), ``ui-tars`` and ``ui-tars-1.5`` (:data:`glmv.actions.parse.DIALECTS`). The kinds and coordinate
spaces are :data:`glmv.actions.action.KINDS` and :data:`glmv.actions.action.SPACES`.
"""

from glmv.actions.action import Action
from glmv.actions.errors import ActionParseError
from glmv.actions.parse import detect_dialect, parse_action, read_action
from glmv.actions.record import action_from_dict, action_to_dict

__all__ = [
    "Action",
    "ActionParseError",
    "action_from_dict",
    "action_to_dict",
    "detect_dialect",
    "parse_action",
    "read_action",
]
