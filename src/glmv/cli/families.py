"""``glmv families``: the model families glmv knows and how they differ.

The table fits an 80-column terminal: each family's hub ids are listed under its name (in full, to copy), so no
column is cut. ``answer``: whether the final answer comes in ``<answer>`` tags; ``size``: total parameters (the
vision tower included) and whether the language model is a mixture of experts.
"""

from __future__ import annotations

from glmv.cli import app


@app.command("families")
def families_command() -> None:
    """List the GLM-V families, their hub ids and what each supports."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from glmv.families import FAMILIES

    table = Table(title="GLM-V families", box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
    table.add_column("family / hub ids", no_wrap=True)
    for column in ("thinking", "answer", "tools", "context", "size"):
        table.add_column(column, no_wrap=True)
    for family in FAMILIES.values():
        names = Text(family.name, style="bold")
        for hub_id in family.hub_ids:
            names.append(f"\n  {hub_id}", style="dim")
        table.add_row(
            names,
            family.thinking,
            "yes" if family.answer_tags else "no",
            "yes" if family.tool_calls else "no",
            f"{family.context_length // 1024}K",
            f"{family.parameters_b:.0f}B {'MoE' if family.moe else 'dense'}",
        )
    Console().print(table)
