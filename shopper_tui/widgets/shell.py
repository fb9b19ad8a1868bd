"""The frame every mode screen sits in: mode bar on top, job bar and footer below.

A new screen subclasses :class:`ShopperScreen`, sets ``MODE`` to its registry name, yields
its widgets from ``compose_body`` and reacts to ``watch_workspace`` (the app's open
workspace, pushed down from ``ShopperApp.workspace``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Label, ProgressBar, Static
from textual.widgets._footer import FooterKey

from ..analytics.errors import REPLACE_REFUSED
from ..jobs import JobOwner, JobStatus

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.message import Message

    from ..analytics.workspace import Workspace
    from ..app import ShopperApp

__all__ = ["JobBar", "ModeBar", "ShopperScreen"]


class ModeBar(Static):
    """One line: the app name, every screen with its key (current one highlighted), the data set."""

    DEFAULT_CLASSES = "mode-bar"

    def __init__(self, current: str) -> None:
        super().__init__(markup=False)
        self.current = current

    def on_mount(self) -> None:
        self.watch(self.app, "workspace", self._refresh_bar, init=True)

    def on_resize(self) -> None:
        self._refresh_bar()

    def _modes_text(self, tier: int) -> Text:
        """Tier 0: every full title; 1: short titles; 2: the current title, other keys only."""
        text = Text(" shopper-tui ", style="bold")
        for mode in getattr(self.app, "screen_modes", ()):
            current = mode.name == self.current
            style = "reverse bold" if current else ""
            text.append("  " if tier == 0 else " ")
            if tier == 0 or (tier == 2 and current):
                label = f" {mode.key} {mode.title} "
            elif tier == 1:
                label = f" {mode.key} {mode.short_title} "
            else:
                label = f" {mode.key} "
            text.append(label, style=style)
        return text

    def _refresh_bar(self, _workspace: object = None) -> None:
        width = self.size.width or 120
        text = self._modes_text(2)
        for tier in (0, 1):  # the richest form that fits
            candidate = self._modes_text(tier)
            if candidate.cell_len <= width:
                text = candidate
                break
        ws = getattr(self.app, "workspace", None)
        if ws is not None:
            kind = ws.meta.get("kind", "?")
            name = ws.name if kind == ws.name else f"{ws.name} · {kind}"
            if text.cell_len + 3 + len(name) > width:
                name = ws.name  # the data set's name alone, whole or not at all
            if text.cell_len + 3 + len(name) <= width:
                text.append("   ")
                text.append(name, style="dim")
        text.truncate(max(width, 1), overflow="ellipsis")
        self.update(text)


class JobBar(Horizontal):
    """The running job: title, step and a progress bar; hidden when nothing runs."""

    DEFAULT_CLASSES = "job-bar"

    def compose(self) -> ComposeResult:
        yield Label("", id="job-label", markup=False)
        yield ProgressBar(total=None, show_eta=False, id="job-progress")
        yield Label("esc cancel", id="job-hint")

    def on_mount(self) -> None:
        self.watch(self.app, "job_status", self._show, init=True)

    def _show(self, status: JobStatus | None) -> None:
        self.display = status is not None
        if status is None:
            return
        self.query_one("#job-label", Label).update(f"{status.title} · {status.step}" if status.step else status.title)
        bar = self.query_one("#job-progress", ProgressBar)
        if status.fraction is None:
            bar.update(total=None)
        else:
            bar.update(total=100, progress=round(status.fraction * 100))


def no_data_text(error: str, *, sep: str = "\n", key: str = "ctrl+p → Re-import source") -> str:
    """What a screen shows where its data would be when opening failed: the error's first line
    and what to do. After a refusal to import over another source's workspace, re-importing
    (which forces) would replace that workspace, so the advice is different."""
    first = error.splitlines()[0] if error else "the workspace could not be opened"
    if REPLACE_REFUSED in error:
        advice = "Start shopper-tui with the --source or --name the message names (Data, key 9, has it in full)."
    else:
        advice = f"Fix the source, then {key}."
    return f"No data open: {first}{sep}{advice}"


class ShopperFooter(Footer):
    """Textual's Footer, with each key created in the state it ends in.

    A ``FooterKey`` starts compact and is then bound to the footer's (not compact) state, so
    each key was restyled as it mounted, twice (add, then remove ``-compact``): about 2 ms per
    key, 40-80 ms per footer of ~20 keys, on every first visit and every rebuild of the footer
    when a screen's bindings change. ``test_first_visit_styles_each_widget_once`` guards it.
    "? Help" and "q Quit" come first (``FIRST_ACTIONS``).
    """

    #: Keys shown first, so a narrow terminal cuts a screen's own keys rather than the key that
    #: lists them all (at 80 columns "? Help" was cut off on most screens).
    FIRST_ACTIONS = ("help", "quit")

    def compose(self) -> ComposeResult:
        first: list[Widget] = []
        rest: list[Widget] = []
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                # bound to the footer's state, except the command palette's key, which stays compact
                compact = True if widget.has_class("-command-palette") else self.compact
                widget.set_reactive(FooterKey.compact, compact)
                widget.set_class(compact, "-compact", update=False)
                if widget.action in self.FIRST_ACTIONS:
                    first.append(widget)
                    continue
            rest.append(widget)
        first.sort(key=lambda key: self.FIRST_ACTIONS.index(key.action))  # type: ignore[attr-defined]
        yield from first
        yield from rest


class _StyledOnMount(Screen[None]):
    """A screen that is not restyled when it resumes for the first time.

    Textual restyles every widget of a screen each time it resumes, and a mode's first visit
    sends two resumes (one from ``_init_mode``, one from ``switch_mode``). Until the screen is
    first suspended its widgets are styled as they mount (focus styles are updated on their own
    when focus lands), so those restyles repeated the work: 20-90 ms of a first visit at L.
    Once the screen has been suspended, resumes restyle as Textual does. (These handlers live
    in their own class: Textual calls one handler per class, and ``ShopperScreen`` has
    ``on_screen_resume``.)
    """

    _suspended_before = False

    def _preset_breakpoints(self) -> None:
        """Give the screen its width and height breakpoint classes before its widgets mount.
        Textual adds them on the screen's first resize, after mounting, which restyled every
        widget once more (30 ms of Affinity's first visit at L)."""
        app = self.app
        size = app.size
        for dimension, own, default in ((size.width, self.HORIZONTAL_BREAKPOINTS, app.HORIZONTAL_BREAKPOINTS),
                                        (size.height, self.VERTICAL_BREAKPOINTS, app.VERTICAL_BREAKPOINTS)):
            breakpoints = (default if own is None else own) or []
            for threshold, name in sorted(breakpoints, reverse=True):
                if dimension >= threshold:
                    self.set_class(True, name, update=False)
                    break

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._suspended_before:
            event.refresh_styles = False
        # Screen._on_screen_resume runs next, in Textual's walk of the class hierarchy

    def _on_screen_suspend(self) -> None:
        self._suspended_before = True


class ShopperScreen(JobOwner, _StyledOnMount):
    """Base of every mode screen.

    Attributes:
        workspace: The open workspace (None until the app has opened one), set from the app.
    """

    MODE: str = ""
    TITLE_TEXT: str = ""
    workspace: reactive[Workspace | None] = reactive(None, init=False)

    if TYPE_CHECKING:  # the app every screen runs in, typed once (Posting's cast, without a runtime cost)

        @property
        def app(self) -> ShopperApp: ...
    _watching_app = False
    #: While a screen built ahead of its first visit waits to be shown: its watches of the
    #: app, as (attribute, callback, init, value when asked). None once shown (or not built ahead).
    _waiting_watches: list[tuple[str, Callable[..., Any], bool, Any]] | None = None

    async def _on_message(self, message: Message) -> None:
        if isinstance(message, events.Mount) and (self._closing or self._pruning or not self.app._running):
            # The app quit while this screen was being built ahead: Textual mounts nothing on a
            # closing widget, so the screen (or a container in it, such as a TabbedContent)
            # composed empty, and on_mount would not find its widgets (a traceback at exit).
            # There is nothing to set up.
            return
        await super()._on_message(message)

    def compose(self) -> ComposeResult:
        self._preset_breakpoints()
        yield ModeBar(self.MODE)
        yield from self.compose_body()
        yield JobBar()
        yield ShopperFooter()

    def compose_body(self) -> Iterable[Widget]:
        return ()

    def on_mount(self) -> None:
        # Textual calls every class's on_mount, so a screen whose on_mount calls this one first
        # (to have the workspace before its own watchers) ran it twice, and with it the first
        # call of each watcher (an error shown twice): watch the app once.
        if self._watching_app:
            return
        self._watching_app = True
        self.watch(self.app, "workspace", self._take_workspace, init=True)
        self.watch(self.app, "workspace_error", self._take_error, init=True)
        self._seen_data_version = getattr(self.app, "data_version", 0)
        if hasattr(self.app, "data_version"):
            self.watch(self.app, "data_version", self._take_new_data, init=False)

    # -- built ahead of the first visit (ShopperApp._build_next_ahead) ------------------------
    def build_ahead(self) -> None:
        """Called before the app mounts this screen off screen: until it is first shown, it
        does not watch the app, so it neither loads data nor starts a job."""
        self._waiting_watches = []

    def watch(self, obj: DOMNode, attribute_name: str, callback: Callable[..., Any], init: bool = True) -> None:
        if self._waiting_watches is not None and obj is self.app:
            self._waiting_watches.append((attribute_name, callback, init, getattr(obj, attribute_name, None)))
            return
        super().watch(obj, attribute_name, callback, init=init)

    def shown_first(self) -> None:
        """The first visit of a screen built ahead: watch the app as mounting would have.

        A watch that skips its first call still gets one if the value changed since the screen
        mounted (e.g. the focus segment a screen read as it mounted), and those come first, so
        the screen's first computation already uses them."""
        waiting, self._waiting_watches = self._waiting_watches, None
        if waiting is None:
            return
        self._seen_data_version = getattr(self.app, "data_version", 0)
        calls = []
        for name, callback, init, then in waiting:
            now = getattr(self.app, name, None)
            changed = now is not then and not (isinstance(now, (int, str)) and now == then)
            calls.append((init or not changed, name, callback, init or changed))
        for _, name, callback, init in sorted(calls, key=lambda call: call[0]):  # stable: else in order
            self.watch(self.app, name, callback, init=init)

    def _take_new_data(self, version: int) -> None:
        if version == self._seen_data_version:
            return
        if self.workspace is not None and self.is_current:
            self._seen_data_version = version
            self.data_changed()

    def data_changed(self) -> None:
        """New rows arrived in watch mode (or the PII display changed): recompute in place.

        The default runs ``watch_workspace`` again; tables showing the same columns keep
        their filter, sort and cursor (:meth:`FrameTable.set_frame`). A screen that is not
        showing catches up when it is shown again (:meth:`on_screen_resume`).
        """
        watcher = getattr(self, "watch_workspace", None)
        if watcher is not None and self.workspace is not None:
            watcher(self.workspace)

    def on_screen_resume(self) -> None:
        version = getattr(self.app, "data_version", 0)
        if version != getattr(self, "_seen_data_version", version) and self.workspace is not None:
            self._seen_data_version = version
            self.data_changed()

    def _take_workspace(self, workspace: Any) -> None:
        self.workspace = workspace

    def _take_error(self, error: str | None) -> None:
        if error and self.workspace is None:
            self.show_no_data(error)

    def show_no_data(self, message: str) -> None:
        """Opening the data failed (the error modal has the details): say so where data would be."""
