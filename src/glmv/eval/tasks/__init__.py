"""The built-in benchmark tasks, one small module each, registered by name in :mod:`glmv.eval.task`.

``mmmu``, ``mathvista``, ``chartqa``, ``docvqa`` / ``infovqa``, ``textvqa``, ``ocrbench``, ``ai2d``, ``mmbench``
(circular), ``mmstar``, ``refcoco``, ``screenspot`` / ``screenspot-v2`` and ``videomme``.
"""

__all__: list[str] = []
