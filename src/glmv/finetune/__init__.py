"""Fine-tuning data for GLM-V: conversations in, LLaMA-Factory and ms-swift datasets out, checked and shown.

``convert(records, family, target)`` turns samples of any shape glmv reads (OpenAI chat JSONL, ShareGPT,
LLaMA-Factory, ms-swift, ``glmv chat`` saves, agent steps, eval results; :mod:`glmv.finetune.sources`) into
``llamafactory`` or ``swift`` records with each family's reply format; ``convert_files`` writes the dataset
folder. ``check`` finds what would break training or train a worse model; ``render`` shows a sample exactly
as the family's chat template and processor make it, with the trained spans marked; ``stats`` sums a dataset up.
"""

from glmv.finetune.check import CheckReport, check, length_histogram, sample_problems
from glmv.finetune.convert import ConvertResult, convert, convert_files, load_samples
from glmv.finetune.media import Measured, MediaStore, measure
from glmv.finetune.render import Rendered, Segment, render, render_text, template_messages
from glmv.finetune.sample import Problem, Sample
from glmv.finetune.stats import SourceStats, Stats, stats
from glmv.finetune.targets import dataset_info, to_record
from glmv.finetune.tokens import PixelLimits, TokenCounter

__all__ = [
    "CheckReport",
    "ConvertResult",
    "Measured",
    "MediaStore",
    "PixelLimits",
    "Problem",
    "Rendered",
    "Sample",
    "Segment",
    "SourceStats",
    "Stats",
    "TokenCounter",
    "check",
    "convert",
    "convert_files",
    "dataset_info",
    "length_histogram",
    "load_samples",
    "measure",
    "render",
    "render_text",
    "sample_problems",
    "stats",
    "template_messages",
    "to_record",
]
