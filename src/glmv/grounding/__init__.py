"""Grounding: locate what an expression names in an image, as boxes or points, in pixels of the original image.

    from glmv.engine import open_engine
    from glmv.grounding import annotate, ground

    engine = open_engine("zai-org/GLM-4.6V-Flash")
    found = ground(engine, "street.jpg", ["the red car", "the bus stop"], all=True)
    for item in found:
        print(item.label, item.box_px)
    annotate(image, found).save("street-annotated.png")

The prompts are the GLM-V README's (:mod:`glmv.grounding.prompts`); the reply is read by :mod:`glmv.output`;
:func:`ground_batch` runs a folder or a JSONL file of jobs with bounded concurrency.
"""

from glmv.grounding.annotate import annotate
from glmv.grounding.batch import BatchJob, BatchResult, ground_batch, read_batch
from glmv.grounding.ground import ground, read_groundings
from glmv.grounding.prompts import grounding_prompt
from glmv.grounding.result import Grounding

__all__ = [
    "BatchJob",
    "BatchResult",
    "Grounding",
    "annotate",
    "ground",
    "ground_batch",
    "grounding_prompt",
    "read_batch",
    "read_groundings",
]
