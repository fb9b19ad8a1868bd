"""One flat retail transactions file (UCI "Online Retail" / "Online Retail II" shape).

One row per invoice line: invoice, stock code, description, quantity, invoice date, unit
price, customer id, country. Headers are matched by synonyms, case-, space- and
punctuation-insensitively, so both ``InvoiceNo, StockCode, Description, Quantity,
InvoiceDate, UnitPrice, CustomerID, Country`` (Online Retail) and ``Invoice, StockCode,
Description, Quantity, InvoiceDate, Price, Customer ID, Country`` (Online Retail II) load, as
do ``order_id, sku, qty, date, price, customer``. Reads ``.csv`` (``.csv.gz``, ``.tsv``; the
delimiter / encoding handling of :mod:`.files`), ``.parquet`` and ``.xlsx`` (every sheet
with the retail headers, via python-calamine).

The canonical tables are built column-wise in Polars:

* **orders** — one per invoice: ``customer_id`` and ``ts`` of the invoice's first line;
  ``status`` = ``cancelled`` when the invoice number starts with "C", ``returned`` when every
  product line has a negative quantity, else ``completed``; ``channel`` null.
* **order_items** — the invoice's product lines; quantities of cancelled / returned invoices
  are made positive so the order keeps its content (its status says what happened).
* **products** — stock code (upper-cased: the export mixes ``85123A`` and ``85123a``) →
  ``product_id``; ``name`` = the most frequent description; ``price`` = median positive unit
  price; ``category`` derived from the description (:func:`category_expr`), since the export
  has none.
* **customers** — ``customer_id`` (``17850.0`` → ``17850``) and the most frequent country.

Lines that cannot become canonical rows are not dropped silently: they go to
``RawSource.loader_rejects`` (table ``order_items``) with their line and one reason each, the
first that applies: missing invoice; invoice already read from an earlier sheet (the two
sheets of Online Retail II overlap by nine days); unparseable stock code / quantity / price /
date; ``no customer id (guest checkout)``; ``non-product line (postage/fee/adjustment)``
(stock codes such as POST, DOT, M, D, C2, CRUK, BANK CHARGES, AMAZONFEE, PADS, B, S,
ADJUST…); ``zero quantity``; ``negative quantity in a completed invoice`` (a stock correction
mixed into a sale).

Line numbers: CSV rows carry their physical line (header = 1), Parquet rows their 1-based
row number, Excel rows their spreadsheet row (header = row 1); for a workbook with several
sheets the reject's origin names the sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path

import polars as pl

from ..errors import ShopperError
from ..parsing import parse_datetimes, to_floats, to_id_strings, to_integers
from ..schema import LINE_COLUMN
from . import ProgressFn, RawSource, RawTable
from .files import check_delimiter, map_headers, number_rows, read_delimited

__all__ = [
    "load_retail_file",
    "RETAIL_SYNONYMS",
    "NON_PRODUCT_CODES",
    "CATEGORY_KEYWORDS",
    "category_expr",
    "REASON_GUEST",
    "REASON_NON_PRODUCT",
    "REASON_REPEATED",
]

#: Retail field → accepted header spellings (compared after normalisation), priority order.
RETAIL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "invoice": ("invoice", "invoice_no", "invoice_number", "invoice_id", "order_id", "order", "order_no",
                "order_number", "transaction_id", "transaction", "receipt", "basket_id"),
    "stock_code": ("stock_code", "product_id", "sku", "item_id", "product_code", "item_code", "article",
                   "product", "item"),
    "description": ("description", "product_name", "item_name", "name", "product_description", "title"),
    "quantity": ("quantity", "qty", "units", "quantity_ordered", "count"),
    "invoice_date": ("invoice_date", "order_date", "transaction_date", "date", "datetime", "timestamp",
                     "created_at", "ts", "time"),
    "unit_price": ("unit_price", "price", "price_each", "item_price", "unit_cost"),
    "customer_id": ("customer_id", "customer", "customer_no", "customer_number", "client_id", "user_id",
                    "member_id"),
    "country": ("country", "customer_country", "country_name", "region"),
}
_REQUIRED = ("invoice", "stock_code", "quantity", "invoice_date", "unit_price", "customer_id")

#: Stock codes that are not goods (upper-cased, anchored regex alternatives).
NON_PRODUCT_CODES = (
    "POST", "DOT", "M", "D", "C2", "CRUK", "BANK CHARGES", "AMAZONFEE", "PADS", "B", "S",
    r"ADJUST\d*", r"TEST\d*",
)
_NON_PRODUCT_RE = "^(?:" + "|".join(NON_PRODUCT_CODES) + ")$"

REASON_GUEST = "no customer id (guest checkout)"
REASON_NON_PRODUCT = "non-product line (postage/fee/adjustment)"
REASON_REPEATED = "invoice already read from an earlier sheet (sheets overlap)"

#: Category → keywords matched as whole words in the upper-cased description, tried in this
#: order (first match wins; seasonal first so "CHRISTMAS LIGHTS" is Christmas). A cheap
#: stand-in for the head noun of names like "WHITE HANGING HEART T-LIGHT HOLDER".
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "Christmas": ("CHRISTMAS", "XMAS", "ADVENT", "SANTA", "REINDEER", "BAUBLE", "BAUBLES", "SNOWFLAKE", "NATIVITY"),
    "Bags": ("BAG", "BAGS", "TOTE", "SHOPPER", "PURSE", "HANDBAG", "RUCKSACK", "BACKPACK"),
    "Candles & Lights": ("CANDLE", "CANDLES", "T-LIGHT", "T-LIGHTS", "TLIGHT", "TEALIGHT", "LANTERN", "LIGHT",
                         "LIGHTS", "LAMP", "LAMPSHADE", "CANDLESTICK", "CHANDELIER", "INCENSE", "DIFFUSER",
                         "MATCHES"),
    "Mugs & Cups": ("MUG", "MUGS", "CUP", "CUPS", "TEACUP", "BEAKER", "BEAKERS", "SAUCER"),
    "Cards & Wrap": ("CARD", "CARDS", "WRAP", "ENVELOPE", "ENVELOPES", "TAG", "TAGS", "RIBBON", "RIBBONS",
                     "GIFT BOX", "TISSUE", "TISSUES", "CONFETTI"),
    "Kitchen & Dining": ("PLATE", "PLATES", "BOWL", "BOWLS", "JAR", "JARS", "TIN", "TINS", "SPOON", "SPOONS",
                         "CAKE", "CAKES", "CAKESTAND", "BAKING", "NAPKIN", "NAPKINS", "LUNCH BOX", "LUNCHBOX", "TRAY",
                         "TEAPOT", "TEA TOWEL", "TOWEL", "APRON", "CUTLERY", "BOTTLE", "JUG", "COASTER", "COASTERS",
                         "STRAWS", "CHOPSTICKS", "GLASS", "TUMBLER", "PANTRY", "KITCHEN", "EGG", "DISH", "PLATTER",
                         "PLACEMAT", "PAN", "COSY", "SPONGE", "CONTAINER", "FOOD", "CAKE CASES", "OVEN GLOVE"),
    "Stationery": ("NOTEBOOK", "NOTEBOOKS", "PEN", "PENS", "PENCIL", "PENCILS", "STICKER", "STICKERS",
                   "ERASER", "RUBBER", "RULER", "JOURNAL", "CALENDAR", "DIARY", "STAMP", "STAMPS", "NOTEPAD",
                   "MEMO", "CRAYONS", "CHALK", "PAPER", "BOOK", "SKETCHBOOK", "STATIONERY", "TAPE", "ALBUM",
                   "BOOKCOVER", "MAGNET", "MAGNETS", "LETTERS", "CLIPS", "PASSPORT COVER"),
    "Toys & Games": ("TOY", "TOYS", "GAME", "GAMES", "PUZZLE", "JIGSAW", "DOLL", "DOLLY", "DOMINOES",
                     "SKIPPING", "SPACEBOY", "PLAYHOUSE", "TEDDY", "BALLOON", "BALLOONS", "KIT", "MAGIC",
                     "SOLDIER", "PARTY", "HELICOPTER", "BALL", "BUNNY", "RABBIT", "MONSTER", "WINDMILL"),
    "Jewellery & Accessories": ("NECKLACE", "BRACELET", "EARRINGS", "RING", "RINGS", "HAIR", "HAIRCLIP",
                                "UMBRELLA", "WALLET", "SCARF", "GLOVES", "KEYRING", "BROOCH", "CHARM",
                                "JEWELLERY", "SUNGLASSES", "HAT", "NECKLAC", "NECKL", "BANGLE", "WASHBAG", "HAND WARMER",
                                "HEADPHONES", "FLANNEL"),
    "Garden & Outdoor": ("GARDEN", "PLANT", "PLANTER", "WATERING", "BIRD", "BIRDHOUSE", "FEEDER", "FLOWER",
                         "FLOWERS", "SEED", "SEEDS", "PICNIC", "TRELLIS", "GNOME", "HAMMOCK", "SPIRIT LEVEL"),
    "Home Decor": ("FRAME", "FRAMES", "CLOCK", "MIRROR", "SIGN", "CUSHION", "DOORMAT", "HOOK", "HOOKS",
                   "HANGER", "HANGERS", "HEART", "HEARTS", "WREATH", "GARLAND", "BUNTING", "DECORATION",
                   "DECORATIONS", "ORNAMENT", "VASE", "DOORSTOP", "KNOB", "KNOBS", "HOLDER", "BOX", "BOXES",
                   "BASKET", "STORAGE", "THROW", "BLANKET", "QUILT", "PLAQUE", "CABINET", "DRAWER", "CHALKBOARD",
                   "CURTAIN", "RACK", "CHAIR", "TABLE", "CHEST", "WALL ART", "PHOTOFRAME", "STAR", "MOBILE", "BIN",
                   "WALL TIDY", "DOORSIGN"),
}


def category_expr(description: pl.Expr) -> pl.Expr:
    """Category from a product description by :data:`CATEGORY_KEYWORDS`, else ``"Other"``."""
    text = description.str.to_uppercase()
    expr: pl.Expr | pl.When | pl.Then | None = None
    for category, words in CATEGORY_KEYWORDS.items():
        pattern = r"(?:^|[^A-Z])(?:" + "|".join(w.replace("-", r"\-") for w in words) + r")(?:$|[^A-Z])"
        cond = text.str.contains(pattern)
        expr = pl.when(cond).then(pl.lit(category)) if expr is None else expr.when(cond).then(pl.lit(category))
    assert expr is not None
    return expr.otherwise(pl.lit("Other"))


# -- reading ----------------------------------------------------------------------------


def _read_xlsx(path: Path) -> tuple[pl.DataFrame, dict[str, str], list[str]]:
    """Every sheet whose header row maps to the retail columns, stacked, all columns as text
    except real date cells; ``__line`` is the spreadsheet row, ``__origin`` names the sheet and
    ``__sheet`` is its position. Also returns retail field → header of the first such sheet."""
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # python-calamine has its own unrelated types (ZipError, XmlError, …)
        raise ShopperError(f"{path.name}: not a readable Excel workbook ({type(exc).__name__}: {exc}).") from exc
    frames: list[pl.DataFrame] = []
    skipped: list[str] = []
    headers: dict[str, str] = {}
    for name in wb.sheet_names:
        try:
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception as exc:  # python-calamine's own types (XmlError, WorksheetNotFound, …)
            raise ShopperError(f"{path.name}: sheet '{name}' cannot be read ({type(exc).__name__}: {exc}); "
                               "the workbook looks damaged.", hint="Open and save it again in Excel, or export CSV.") from exc
        if not rows or not any(str(v).strip() for v in rows[0]):
            skipped.append(name)
            continue
        header = [str(v).strip() for v in rows[0]]
        rename, _ = map_headers(header, RETAIL_SYNONYMS, origin=path.name)
        if not {"invoice", "stock_code", "quantity"} <= set(rename.values()):
            skipped.append(name)
            continue
        for h, c in rename.items():
            headers.setdefault(c, h)
        columns = list(zip(*rows[1:])) if len(rows) > 1 else [()] * len(header)
        data: dict[str, pl.Series] = {}
        for i, h in enumerate(header):
            if h not in rename:
                continue
            values = columns[i] if i < len(columns) else ()
            data[rename[h]] = _cells(rename[h], values)
        frame = pl.DataFrame(data).with_row_index(LINE_COLUMN, offset=2).with_columns(
            pl.col(LINE_COLUMN).cast(pl.Int64),
            pl.lit(f"{path.name} [{name}]" if len(wb.sheet_names) > 1 else path.name).alias("__origin"),
            pl.lit(len(frames), dtype=pl.Int32).alias("__sheet"),
        )
        frames.append(frame)
    if not frames:
        raise ShopperError(
            f"{path.name}: no sheet has the retail columns (invoice, stock code, quantity, invoice date, "
            f"unit price, customer id) in its first row.")
    notes = [f"{path.name}: sheet{'s' if len(skipped) > 1 else ''} {', '.join(repr(s) for s in skipped)} "
             "ignored (no retail header)"] if skipped else []
    if len(frames) > 1:
        notes.append(f"{path.name}: {len(frames)} sheets read and stacked")
    return pl.concat(frames, how="diagonal_relaxed"), headers, notes


def _cells(name: str, values: Sequence[object]) -> pl.Series:
    """One spreadsheet column: real date cells as Datetime when the column holds nothing
    else, otherwise every cell as text (numbers and dates too, coerced later) — so a text
    value among numbers or dates is kept and reported, not dropped by type inference.
    Empty cells (which come back as "") are null."""
    vals = [None if v is None or v == "" else v for v in values]
    kinds = {type(v) for v in vals if v is not None}
    if kinds and all(issubclass(k, date) for k in kinds):  # datetime is a date too
        return pl.Series(name, [v if v is None or isinstance(v, datetime) else datetime(v.year, v.month, v.day)
                                for v in vals], dtype=pl.Datetime("us"))
    text = [None if v is None else v.isoformat(sep=" ") if isinstance(v, datetime)
            else v.isoformat() if isinstance(v, (date, time)) else str(v) for v in vals]
    return pl.Series(name, text, dtype=pl.String)


def _read_any(path: Path) -> tuple[pl.DataFrame, dict[str, str], str | None, list[str]]:
    """Raw lines with canonical retail column names, the header used for each, encoding, notes."""
    name = path.name.lower()
    notes: list[str] = []
    encoding = None
    if not path.is_file():
        raise ShopperError(f"{path.name}: file not found ('{path}').")
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        frame, headers, notes = _read_xlsx(path)
        return frame, headers, None, notes
    if name.endswith((".parquet", ".pq")):
        try:
            frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise ShopperError(f"{path.name}: not a readable Parquet file ({str(exc).splitlines()[0]}).") from exc
        frame = number_rows(frame)
    else:
        text = read_delimited(path)
        check_delimiter(text, origin=path.name, expected_columns=len(_REQUIRED))
        frame, encoding = text.frame, text.encoding
        notes.extend(text.notes)
    columns = [c for c in frame.columns if c not in (LINE_COLUMN,)]
    rename, map_notes = map_headers(columns, RETAIL_SYNONYMS, origin=path.name)
    notes.extend(map_notes)
    frame = frame.select([LINE_COLUMN, *[pl.col(h).alias(c) for h, c in rename.items()]])
    frame = frame.with_columns(pl.lit(path.name).alias("__origin"), pl.lit(0, dtype=pl.Int32).alias("__sheet"))
    return frame, {c: h for h, c in rename.items()}, encoding, notes


# -- building ---------------------------------------------------------------------------


def load_retail_file(path: Path, *, progress: ProgressFn) -> RawSource:
    """Read one retail transactions file into orders, order_items, products and customers.

    Args:
        path: A ``.csv`` (``.csv.gz``, ``.tsv``), ``.parquet`` or ``.xlsx`` file.
        progress: Called with (step, fraction).

    Raises:
        ShopperError: The file cannot be read, or a needed column (invoice, stock code,
            quantity, invoice date, unit price, customer id) is missing; the message names
            the file and the headers found.
    """
    path = Path(path)
    progress(f"reading {path.name}", 0.0)
    raw, headers, encoding, notes = _read_any(path)
    missing = [c for c in _REQUIRED if c not in raw.columns]
    if missing:
        found = ", ".join(c for c in headers.values()) or "none recognised"
        raise ShopperError(
            f"{path.name}: no column for {', '.join(m.replace('_', ' ') for m in missing)} "
            f"(recognised: {found}).",
            hint="A retail file needs invoice, stock code, quantity, invoice date, unit price and customer id "
            "columns (e.g. InvoiceNo, StockCode, Quantity, InvoiceDate, UnitPrice, CustomerID).",
        )
    for optional in ("description", "country"):
        if optional not in raw.columns:
            raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias(optional))
            headers[optional] = optional
    progress(f"parsing {path.name}", 0.3)
    date, how = parse_datetimes(raw.get_column("invoice_date"))
    if how.family not in ("native", "empty"):
        notes.append(f"{headers['invoice_date']} read as {how.describe()}")
    lines = raw.select(
        LINE_COLUMN,
        "__origin",
        "__sheet",
        to_id_strings(raw.get_column("invoice")).alias("invoice"),
        to_id_strings(raw.get_column("stock_code")).str.to_uppercase().alias("product_id"),
        _text(raw.get_column("description")).alias("description"),
        to_integers(raw.get_column("quantity")).alias("quantity"),
        to_floats(raw.get_column("unit_price")).alias("unit_price"),
        date.alias("ts"),
        to_id_strings(raw.get_column("customer_id")).alias("customer_id"),
        _text(raw.get_column("country")).alias("country"),
        # raw values, for the rejection report
        *[raw.get_column(c).cast(pl.String, strict=False).alias(f"__raw_{c}")
          for c in ("invoice", "stock_code", "quantity", "unit_price", "invoice_date", "customer_id")],
    )
    progress(f"building tables from {path.name}", 0.6)
    non_product = pl.col("product_id").str.contains(_NON_PRODUCT_RE)
    # invoice status from its product lines with a customer
    is_c = pl.col("invoice").str.starts_with("C") | pl.col("invoice").str.starts_with("c")
    usable = (
        pl.col("invoice").is_not_null() & pl.col("product_id").is_not_null() & pl.col("quantity").is_not_null()
        & pl.col("unit_price").is_not_null() & pl.col("ts").is_not_null()
    )
    # "returned": every usable product line of a non-C invoice has a negative quantity
    product_lines = usable & pl.col("customer_id").is_not_null() & ~non_product
    all_negative = (
        lines.filter(product_lines)
        .group_by("invoice")
        .agg((pl.col("quantity") < 0).all().alias("__all_neg"))
    )
    lines = lines.join(all_negative, on="invoice", how="left", maintain_order="left").with_columns(
        pl.when(is_c).then(pl.lit("cancelled"))
        .when(pl.col("__all_neg").fill_null(False)).then(pl.lit("returned"))
        .otherwise(pl.lit("completed")).alias("status")
    ).drop("__all_neg")
    # one reason per rejected line, the first that applies
    # Online Retail II's two sheets overlap (2010-12-01 … 2010-12-09 is in both): an invoice
    # already read from an earlier sheet is not read again
    repeated = pl.col("__sheet") > pl.col("__sheet").min().over("invoice")
    reason = (
        pl.when(pl.col("invoice").is_null()).then(pl.lit("missing invoice"))
        .when(repeated).then(pl.lit(REASON_REPEATED))
        .when(pl.col("product_id").is_null()).then(pl.lit("missing stock code"))
        .when(pl.col("quantity").is_null()).then(pl.lit("unparseable quantity"))
        .when(pl.col("unit_price").is_null()).then(pl.lit("unparseable unit price"))
        .when(pl.col("ts").is_null()).then(pl.lit("unparseable invoice date"))
        .when(pl.col("customer_id").is_null()).then(pl.lit(REASON_GUEST))
        .when(non_product).then(pl.lit(REASON_NON_PRODUCT))
        .when(pl.col("quantity") == 0).then(pl.lit("zero quantity"))
        .when((pl.col("quantity") < 0) & (pl.col("status") == "completed"))
        .then(pl.lit("negative quantity in a completed invoice"))
        .otherwise(None)
    )
    reason_column = {
        "missing invoice": "invoice", REASON_REPEATED: "invoice", "missing stock code": "stock_code", "unparseable quantity": "quantity",
        "unparseable unit price": "unit_price", "unparseable invoice date": "invoice_date",
        REASON_GUEST: "customer_id", REASON_NON_PRODUCT: "stock_code", "zero quantity": "quantity",
        "negative quantity in a completed invoice": "quantity",
    }
    lines = lines.with_columns(reason.alias("__reason"))
    rejected = lines.filter(pl.col("__reason").is_not_null())
    kept = lines.filter(pl.col("__reason").is_null()).drop("__reason")
    loader_rejects = _rejects_frame(rejected, reason_column, headers)

    kept = kept.with_columns(
        pl.when(pl.col("status") == "completed").then(pl.col("quantity")).otherwise(pl.col("quantity").abs())
        .alias("quantity")
    )
    first = pl.col(LINE_COLUMN).arg_min()
    orders = (
        kept.group_by("invoice")
        .agg(
            pl.col(LINE_COLUMN).min(),
            pl.col("customer_id").get(first).alias("customer_id"),
            pl.col("ts").get(first).alias("ts"),
            pl.col("status").first(),
        )
        .sort(LINE_COLUMN)
        .select(
            LINE_COLUMN,
            pl.col("invoice").alias("order_id"),
            "customer_id",
            "ts",
            pl.lit(None, dtype=pl.String).alias("channel"),
            "status",
        )
    )
    items = kept.select(LINE_COLUMN, pl.col("invoice").alias("order_id"), "product_id", "quantity", "unit_price")
    # catalogue from every product line (guest purchases describe products too)
    catalogue_lines = lines.filter(
        pl.col("product_id").is_not_null() & ~pl.col("product_id").str.contains(_NON_PRODUCT_RE)
    )
    names = (
        catalogue_lines.filter(pl.col("description").is_not_null())
        .group_by("product_id", "description")
        .agg(pl.len().alias("__n"), pl.col(LINE_COLUMN).min().alias("__first"))
        .sort(["product_id", "__n", "__first"], descending=[False, True, False])
        .group_by("product_id", maintain_order=True)
        .agg(pl.col("description").first().alias("name"))
    )
    products = (
        catalogue_lines.group_by("product_id")
        .agg(
            pl.col(LINE_COLUMN).min(),
            pl.col("unit_price").filter(pl.col("unit_price") > 0).median().alias("price"),
        )
        .join(names, on="product_id", how="left")
        .sort(LINE_COLUMN)
        .select(
            LINE_COLUMN,
            "product_id",
            "name",
            category_expr(pl.col("name").fill_null("")).alias("category"),
            pl.lit(None, dtype=pl.String).alias("subcategory"),
            pl.lit(None, dtype=pl.String).alias("brand"),
            "price",
            pl.lit(None, dtype=pl.String).alias("description"),
        )
    )
    countries = (
        kept.filter(pl.col("country").is_not_null())
        .group_by("customer_id", "country")
        .agg(pl.len().alias("__n"), pl.col(LINE_COLUMN).min().alias("__first"))
        .sort(["customer_id", "__n", "__first"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .agg(pl.col("country").first())
    )
    customers = (
        kept.group_by("customer_id")
        .agg(pl.col(LINE_COLUMN).min())
        .join(countries, on="customer_id", how="left")
        .sort(LINE_COLUMN)
        .select(LINE_COLUMN, "customer_id", "country")
    )
    origin = path.name
    progress(f"{path.name} read", 1.0)
    n_cancel = orders.filter(pl.col("status") == "cancelled").height
    n_return = orders.filter(pl.col("status") == "returned").height
    notes.append(
        f"{origin}: {lines.height:,} invoice lines → {orders.height:,} orders "
        f"({n_cancel:,} cancelled, {n_return:,} returned), {products.height:,} products, "
        f"{customers.height:,} customers; categories derived from descriptions by keyword"
    )
    return RawSource(
        kind="retail",
        description=f"retail file {path}",
        tables={
            "customers": RawTable("customers", customers, origin),
            "products": RawTable("products", products, origin),
            "orders": RawTable("orders", orders, origin),
            "order_items": RawTable("order_items", items, origin, encoding=encoding),
        },
        notes=notes,
        loader_rejects=loader_rejects,
    )


def _text(s: pl.Series) -> pl.Series:
    t = s.cast(pl.String, strict=False).str.strip_chars()
    return pl.select(pl.when(t.str.len_chars() == 0).then(None).otherwise(t)).to_series().alias(s.name)


def _rejects_frame(rejected: pl.DataFrame, reason_column: dict[str, str], headers: dict[str, str]) -> pl.DataFrame:
    """Rejected lines in the validator's reject layout, naming the file's own headers."""
    column = pl.col("__reason").replace_strict(reason_column, default="invoice")
    header = column.replace_strict(headers, default=column)
    value = pl.coalesce(
        *[pl.when(column == c).then(pl.col(f"__raw_{c}")) for c in
          ("invoice", "stock_code", "quantity", "unit_price", "invoice_date", "customer_id")]
    )
    return rejected.select(
        pl.lit("order_items").alias("table"),
        pl.col("__origin").alias("origin"),
        pl.col(LINE_COLUMN).cast(pl.Int64).alias("line"),
        header.alias("column"),
        value.cast(pl.String).alias("value"),
        pl.col("__reason").alias("reason"),
    )
