"""The one error type the engine raises for problems a user can act on.

Anything that is the user's to fix (a missing file, a required column that is not there,
an unreachable MongoDB server) is raised as :class:`ShopperError` with a message that names
the file, the column and the line where it can. The CLI prints it without a traceback and
exits 2; the app shows it in its error modal.
"""

from __future__ import annotations

__all__ = ["REPLACE_REFUSED", "ShopperError", "SourceUnavailable"]


class ShopperError(Exception):
    """A problem with the user's data, source or settings, explained in plain words.

    Args:
        message: One paragraph a user can act on, e.g.
            ``"orders.csv: column 'ts' has 3 unparseable values, first at line 17: '31/02/2011'"``.
        hint: Optional next step ("run `shopper-tui import ...` again", "check the URI").
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


#: The words of import_source's refusal to import one source over another's workspace; the
#: screens use them to give the right advice (re-importing there would replace the data).
REPLACE_REFUSED = "would replace that data"


class SourceUnavailable(ShopperError):
    """The source cannot be reached right now (a folder moved away, a server down), as
    opposed to a source that answers wrongly (bad password, bad data). The data already
    imported from it can still be opened."""


class Cancelled(Exception):
    """Raised inside engine work when the user cancelled the job (the progress callback raises it)."""


__all__ += ["Cancelled"]
