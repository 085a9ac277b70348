"""``glmv families``: the model families glmv knows and how they differ."""

from __future__ import annotations

from glmv.cli import app


@app.command("families")
def families_command() -> None:
    """List the GLM-V families, their hub ids and what each supports."""
    from rich.console import Console
    from rich.table import Table

    from glmv.families import FAMILIES

    table = Table(title="GLM-V families")
    for column in ("name", "hub ids", "thinking", "<answer> tags", "tools", "context"):
        table.add_column(column)
    for family in FAMILIES.values():
        table.add_row(
            family.name,
            "\n".join(family.hub_ids),
            family.thinking,
            "yes" if family.answer_tags else "no",
            "yes" if family.tool_calls else "no",
            f"{family.context_length // 1024}K",
        )
    Console().print(table)
