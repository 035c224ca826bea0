"""Help-screen fixes that apply to every command, so no flag has to remember them."""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption


def tidy_option_types() -> None:
    """Fit option help into 80 columns and keep it truthful: no placeholder column.

    An on/off flag takes no value, yet Typer prints ``<bool>`` beside it, which invites ``--tta true``
    (and ``true`` is then read as an input path). The other placeholders (``<str>``, ``<path>``, the
    choices) repeat what each help text says, and at 80 columns their column squeezed the help text
    to ~20 characters a line. Every help text names its choices itself (tested).
    """
    if getattr(TyperOption.display_type_rich, "_vmambair", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None

    display_type_rich._vmambair = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
