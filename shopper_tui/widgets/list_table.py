"""``ListTable``: Textual's own ``DataTable``, for the few small lists that are not frames (the
Data screen's list of tables), kept apart from the frame tables' CSS.

The frame tables are ``textual_fastdatatable.DataTable``. Both classes are called
``DataTable``, so each one's default CSS (``DataTable > .datatable--header { … }``) also
styles the other's tables, and which one wins depended on which screen mounted first: after
a visit to Data, the Recommendations table drew its header and cursor in Textual's colours.
``ListTable`` does not inherit its CSS by type name (``inherit_css=False``); it carries the
same rules under its own name, so neither table's look depends on the order of visits.
"""

from __future__ import annotations

import re

from textual.scroll_view import ScrollView
from textual.widget import Widget
from textual.widgets import DataTable

__all__ = ["ListTable"]


def _renamed(css: str, name: str, to: str) -> str:
    return re.sub(rf"\b{name}\b", to, css)


class ListTable(DataTable, inherit_css=False):  # type: ignore[type-arg]
    """Textual's ``DataTable``, styled exactly as Textual styles it, under its own CSS name."""

    COMPONENT_CLASSES = DataTable.COMPONENT_CLASSES  # not inherited either, with inherit_css=False
    # Widget's rules first, DataTable's last: the order (and so the winner of a tie) Textual
    # gives the inherited sources.
    DEFAULT_CSS = "\n".join(
        _renamed(base.DEFAULT_CSS, base.__name__, "ListTable") for base in (Widget, ScrollView, DataTable)
    )
