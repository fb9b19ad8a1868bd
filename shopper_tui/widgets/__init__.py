"""Reusable widgets: the screen shell, the data table, KPI cards, the bar chart and dialogs.

Names are imported on first use, so a screen that needs only the shell does not pay for
Polars and Arrow (the data table's dependencies) before the first paint.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "BarChart",
    "ErrorModal",
    "ExportDialog",
    "ExportRequest",
    "FilterBar",
    "FrameTable",
    "JobBar",
    "KpiCard",
    "ListTable",
    "ModeBar",
    "NamePrompt",
    "ShopperScreen",
    "compact_number",
    "counted",
    "no_data_text",
]

_WHERE = {
    "BarChart": "bar_chart", "compact_number": "bar_chart", "counted": "bar_chart",
    "ErrorModal": "error_modal",
    "ExportDialog": "export_dialog", "ExportRequest": "export_dialog",
    "FilterBar": "frame_table", "FrameTable": "frame_table",
    "KpiCard": "kpi",
    "ListTable": "list_table",
    "NamePrompt": "name_prompt",
    "JobBar": "shell", "ModeBar": "shell", "ShopperScreen": "shell", "no_data_text": "shell",
}

if TYPE_CHECKING:
    from .bar_chart import BarChart, compact_number, counted
    from .error_modal import ErrorModal
    from .export_dialog import ExportDialog, ExportRequest
    from .frame_table import FilterBar, FrameTable
    from .kpi import KpiCard
    from .list_table import ListTable
    from .name_prompt import NamePrompt
    from .shell import JobBar, ModeBar, ShopperScreen, no_data_text


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
