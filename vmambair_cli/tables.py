"""Tables that stay readable at 80 columns and in a pipe: printed as they are when they fit, else stacked.

Rich squeezes a table that is wider than the terminal by wrapping and cutting cells ("30.…"), and a
pipe or a log file gets 80 columns. A table that does not fit is printed one block per row instead:
the row's first non-empty cell as a heading, then one ``header: value`` line per other cell, so every
number stays whole.
"""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` as it is if its natural width fits ``console``, else stacked (see the module)."""
    natural = console.measure(table, options=console.options.update(max_width=10_000)).maximum
    if natural <= console.width:
        console.print(table)
        return
    if table.title:
        console.print(_text(table.title), style="bold")
    headers = [_text(column.header).plain for column in table.columns]
    for row in zip(*(list(column.cells) for column in table.columns), strict=True):
        cells = [_text(cell) for cell in row]
        filled = [k for k, cell in enumerate(cells) if cell.plain.strip() not in ("", "—")]
        if not filled:
            continue
        head, *rest = filled
        console.print(cells[head], soft_wrap=False)
        for k in rest:
            console.print(Padding(Text.assemble((f"{headers[k]}: ", "dim"), cells[k]), (0, 0, 0, 2), expand=False))


def _text(cell: RenderableType) -> Text:
    """A cell as Text (strings are Rich markup, as in the table itself)."""
    if isinstance(cell, Text):
        return cell
    return Text.from_markup(str(cell))
