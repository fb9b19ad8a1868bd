"""One flat transactions file: the retail shape, a plain transactions file, or Shopify.

**Retail shape** (UCI "Online Retail" / "Online Retail II"): one row per invoice line —
invoice, stock code, description, quantity, invoice date, unit price, customer id, country.
Headers are matched by synonyms, case-, space- and punctuation-insensitively, so both
``InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country``
(Online Retail) and ``Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer
ID, Country`` (Online Retail II) load, as do ``order_id, sku, qty, date, price, customer``.

**Plain transactions** (CDNOW, many CRM exports): customer id, date and amount (the line's
total) or quantity and unit price; an order id and a product are optional. Without an order id
column each row is one order; with an amount and no unit price, unit price = amount /
quantity (or the amount, quantity 1, when there is no quantity column).

**Shopify orders export**: recognised by its header and read by :mod:`.shopify`.

Reads ``.csv`` (``.csv.gz``, ``.tsv``; the delimiter / encoding handling of :mod:`.files`),
``.parquet`` and ``.xlsx`` (every sheet with the headers, via python-calamine).

The canonical tables are built column-wise in Polars, and **every line read is kept** unless
it cannot be used; the purchase rules of :mod:`..purchases` then say what each kept line is:

* **orders** — one per invoice: ``customer_id`` (null for a guest checkout) and ``ts`` of the
  invoice's first line; ``status`` = ``cancelled`` when the invoice number is "C" + digits (a
  credit note; not when most of the file's invoices look like that),
  else the file's status column (mapped by the validator) or ``completed``; ``channel`` null.
* **order_items** — every line with quantity and price as in the file (a cancellation's
  negative quantities, zero prices, stock corrections): ``kind`` = ``charge`` for the charge
  codes (postage, manual lines, fees, :data:`..purchases.CHARGE_CODES` plus the settings'),
  else ``product``.
* **products** — stock code (upper-cased: the export mixes ``85123A`` and ``85123a``) →
  ``product_id``; ``name`` = the most frequent description; ``price`` = median positive unit
  price; ``category``, ``subcategory`` and ``brand`` from the file's own columns when it has
  them (Superstore's Category, Sub-Category, Manufacturer; Shopify's Vendor), else the category
  is derived from the description (:func:`category_expr`), since Online Retail has none.
  Charges are no products.
* **customers** — ``customer_id`` (``17850.0`` → ``17850``) and the most frequent country.

Lines that cannot be used go to ``RawSource.loader_rejects`` (table ``order_items``) with
their line, one reason each (the first that applies: missing invoice; invoice already read
from an earlier sheet — the two sheets of Online Retail II overlap by nine days; unparseable
quantity / price / amount / date; missing price or date) and their quantity × price where
both were read, so the reconciliation still adds up to the file's total.

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
from ..parsing import MISSING_ID_TOKENS, parse_datetimes, to_floats, to_id_strings, to_integers
from ..purchases import CHARGE_CODES, REASON_DUPLICATE, is_charge
from ..schema import LINE_COLUMN
from . import ProgressFn, RawSource, RawTable
from .files import check_delimiter, map_headers, number_rows, read_delimited
from .shopify import is_shopify, load_shopify_frame

__all__ = [
    "load_retail_file",
    "RETAIL_SYNONYMS",
    "CHARGE_CODES",
    "CATEGORY_KEYWORDS",
    "category_expr",
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
                    "member_id", "master_id", "buyer_id", "account_id"),
    "country": ("country", "customer_country", "country_name", "region"),
    # the line's total, for files without a unit price (plain transactions: customer, date, amount)
    "amount": ("amount", "line_total", "line_amount", "total", "total_price", "sales", "sale_amount", "revenue",
               "value", "dollar_value", "order_value", "order_total", "net_sales", "spend"),
    "status": ("status", "order_status", "transaction_status"),
    # the catalogue's own attributes, when the export has them (Superstore: Category, Sub-Category)
    "category": ("category", "product_category", "category_name", "department", "product_type"),
    "subcategory": ("subcategory", "sub_category", "product_subcategory"),
    "brand": ("brand", "vendor", "manufacturer", "brand_name"),
}
#: Columns of the retail shape; a file needs a date and a unit price or amount, the rest is optional.
_RETAIL_COLUMNS = ("invoice", "stock_code", "quantity", "invoice_date", "unit_price", "customer_id")

REASON_REPEATED = REASON_DUPLICATE

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
        mapped = set(rename.values())
        if "invoice_date" not in mapped or not mapped & {"unit_price", "amount"}:
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


def _read_any(path: Path, charge_codes: tuple[str, ...]) -> tuple[pl.DataFrame, dict[str, str], str | None, list[str]] | RawSource:
    """Raw lines with canonical retail column names, the header used for each, encoding, notes;
    or, for a Shopify orders export, the tables read by :mod:`.shopify`."""
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
        check_delimiter(text, origin=path.name, expected_columns=len(_RETAIL_COLUMNS))
        frame, encoding = text.frame, text.encoding
        notes.extend(text.notes)
    columns = [c for c in frame.columns if c not in (LINE_COLUMN,)]
    if is_shopify(columns):  # before the retail mapping, which would take Shopify's "Name" for a description
        shop = load_shopify_frame(frame.select(LINE_COLUMN, *[pl.col(c).cast(pl.String) for c in columns]),
                                  origin=path.name, charge_codes=charge_codes)
        shop.tables["order_items"].encoding = encoding
        shop.notes[:0] = notes
        return shop
    rename, map_notes = map_headers(columns, RETAIL_SYNONYMS, origin=path.name)
    notes.extend(map_notes)
    frame = frame.select([LINE_COLUMN, *[pl.col(h).alias(c) for h, c in rename.items()]])
    frame = frame.with_columns(pl.lit(path.name).alias("__origin"), pl.lit(0, dtype=pl.Int32).alias("__sheet"))
    return frame, {c: h for h, c in rename.items()}, encoding, notes


# -- building ---------------------------------------------------------------------------


def load_retail_file(path: Path, *, progress: ProgressFn, charge_codes: tuple[str, ...] = ()) -> RawSource:
    """Read one transactions file into orders, order_items, products and customers.

    Three shapes, told apart by the header: a Shopify orders export (:mod:`.shopify`), the
    retail shape (invoice, stock code, quantity, date, unit price, customer id …) and a plain
    transactions file (customer id, date and amount, or quantity and unit price; an order id
    and a product are optional, and each row without an order id is one order).

    Args:
        path: A ``.csv`` (``.csv.gz``, ``.tsv``), ``.parquet`` or ``.xlsx`` file.
        progress: Called with (step, fraction).
        charge_codes: Stock codes that are charges besides :data:`.purchases.CHARGE_CODES`.

    Raises:
        ShopperError: The file cannot be read, or a needed column (a date, and an amount or
            quantity and unit price) is missing; the message names the file and the headers found.
    """
    path = Path(path)
    progress(f"reading {path.name}", 0.0)
    read = _read_any(path, charge_codes)
    if isinstance(read, RawSource):  # a Shopify export
        progress(f"{path.name} read", 1.0)
        return read
    raw, headers, encoding, notes = read
    has_money = "unit_price" in raw.columns or "amount" in raw.columns
    if "invoice_date" not in raw.columns or not has_money:
        missing = [m for m, ok in (("date", "invoice_date" in raw.columns),
                                   ("unit price or amount", has_money)) if not ok]
        found = ", ".join(c for c in headers.values()) or "none recognised"
        raise ShopperError(
            f"{path.name}: no column for {' and '.join(missing)} (recognised: {found}).",
            hint="A transactions file needs a date and either an amount or quantity and unit price; invoice / "
            "order id, stock code / product, customer id and country are optional (e.g. InvoiceNo, StockCode, "
            "Quantity, InvoiceDate, UnitPrice, CustomerID; or customer_id, date, amount).",
        )
    plain = "invoice" not in raw.columns
    for optional in ("description", "country", "customer_id", "stock_code", "invoice", "quantity", "unit_price",
                     "amount", "status", "category", "subcategory", "brand"):
        if optional not in raw.columns:
            raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias(optional))
    progress(f"parsing {path.name}", 0.3)
    date, how = parse_datetimes(raw.get_column("invoice_date"))
    if how.family not in ("native", "empty"):
        notes.append(f"{headers['invoice_date']} read as {how.describe()}")
    quantity = to_integers(raw.get_column("quantity"))
    price = to_floats(raw.get_column("unit_price"))
    amount = to_floats(raw.get_column("amount"))
    invoice = to_id_strings(raw.get_column("invoice"))
    lines = raw.select(
        LINE_COLUMN,
        "__origin",
        "__sheet",
        # a row without an order id column is an order of its own: "#<line>", "#<sheet>:<line>" past
        # a workbook's first sheet (line numbers restart on each sheet)
        (pl.when(pl.col("__sheet") == 0).then(pl.concat_str(pl.lit("#"), pl.col(LINE_COLUMN).cast(pl.String)))
         .otherwise(pl.concat_str(pl.lit("#"), (pl.col("__sheet") + 1).cast(pl.String), pl.lit(":"),
                                  pl.col(LINE_COLUMN).cast(pl.String)))
         if plain else pl.lit(invoice)).alias("invoice"),
        to_id_strings(raw.get_column("stock_code")).str.to_uppercase().alias("product_id"),
        _text(raw.get_column("description")).alias("description"),
        _text(raw.get_column("status")).alias("status_text"),
        date.alias("ts"),
        to_id_strings(raw.get_column("customer_id"), missing=MISSING_ID_TOKENS).alias("customer_id"),
        _text(raw.get_column("country")).alias("country"),
        *[_text(raw.get_column(c)).alias(c) for c in ("category", "subcategory", "brand")],
        # raw values, for the rejection report
        *[raw.get_column(c).cast(pl.String, strict=False).alias(f"__raw_{c}")
          for c in ("invoice", "stock_code", "quantity", "unit_price", "amount", "invoice_date", "customer_id")],
    ).with_columns(_money(quantity, price, amount, raw.get_column("quantity")))
    progress(f"building tables from {path.name}", 0.6)
    charge = is_charge(pl.col("product_id"), charge_codes)
    # a retail credit note is "C" + the invoice number (C536379). Order ids that merely begin
    # with a C (CA-1001), or a file whose every order id does, are no cancellations
    c_like = pl.col("invoice").str.contains(r"^[Cc]\d")
    is_c = c_like & (c_like.mean() < 0.5) if not plain else pl.lit(False)
    lines = lines.with_columns(
        # a "C…" invoice is a cancellation whatever else the row says; a status column, when
        # there is one, is mapped by the validator (completed / cancelled / returned synonyms)
        pl.when(is_c).then(pl.lit("cancelled")).otherwise(pl.col("status_text").fill_null("completed")).alias("status"),
        pl.when(charge).then(pl.lit("charge")).otherwise(pl.lit("product")).alias("kind"),
    )
    # one reason per rejected line, the first that applies. Everything else is kept: guest
    # lines, charges, zero prices and stock corrections are classified by the purchase rules
    # (:mod:`..purchases`), not thrown away.
    # Online Retail II's two sheets overlap (2010-12-01 … 2010-12-09 is in both): an invoice
    # already read from an earlier sheet is not read again
    repeated = pl.col("__sheet") > pl.col("__sheet").min().over("invoice")
    bad_quantity = pl.col("quantity").is_null() & pl.col("__raw_quantity").is_not_null()
    reason = (
        pl.when(pl.col("invoice").is_null()).then(pl.lit("missing invoice"))
        .when(repeated).then(pl.lit(REASON_REPEATED))
        .when(bad_quantity).then(pl.lit("unparseable quantity"))
        .when(pl.col("unit_price").is_null() & pl.col("__raw_unit_price").is_not_null())
        .then(pl.lit("unparseable unit price"))
        .when(pl.col("unit_price").is_null() & pl.col("__raw_amount").is_not_null()).then(pl.lit("unparseable amount"))
        .when(pl.col("unit_price").is_null()).then(pl.lit("missing unit price"))
        .when(pl.col("ts").is_null() & pl.col("__raw_invoice_date").is_not_null())
        .then(pl.lit("unparseable invoice date"))
        .when(pl.col("ts").is_null()).then(pl.lit("missing invoice date"))
        .otherwise(None)
    )
    reason_column = {
        "missing invoice": "invoice", REASON_REPEATED: "invoice", "unparseable quantity": "quantity",
        "unparseable unit price": "unit_price", "unparseable amount": "amount", "missing unit price": "unit_price",
        "unparseable invoice date": "invoice_date", "missing invoice date": "invoice_date",
    }
    lines = lines.with_columns(reason.alias("__reason"))
    rejected = lines.filter(pl.col("__reason").is_not_null())
    kept = lines.filter(pl.col("__reason").is_null()).drop("__reason")
    loader_rejects = _rejects_frame(rejected, reason_column, headers)
    del lines

    first = pl.col(LINE_COLUMN).arg_min()
    orders = (
        kept.group_by("invoice")
        .agg(
            pl.col(LINE_COLUMN).min(),
            pl.col("customer_id").get(first).alias("customer_id"),
            pl.col("ts").get(first).alias("ts"),
            pl.col("status").get(first).alias("status"),
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
    # quantities and prices exactly as in the file: a cancellation's negative quantities stay
    # negative, so the reconciliation adds up to the file's Σ quantity × price
    items = kept.select(LINE_COLUMN, pl.col("invoice").alias("order_id"), "product_id", "quantity", "unit_price",
                        "kind")
    # catalogue from every product line read (guest purchases and cancellations describe
    # products too); charges are no products
    catalogue_lines = kept.filter(pl.col("product_id").is_not_null() & (pl.col("kind") == "product"))
    names = _most_frequent(catalogue_lines, "product_id", "description", "name")
    attributes = [_most_frequent(catalogue_lines, "product_id", c, f"__file_{c}") for c in ("category", "subcategory",
                                                                                            "brand")]
    products = (
        catalogue_lines.group_by("product_id")
        .agg(
            pl.col(LINE_COLUMN).min(),
            pl.col("unit_price").filter(pl.col("unit_price") > 0).median().alias("price"),
        )
        .join(names, on="product_id", how="left")
    )
    for frame in attributes:
        products = products.join(frame, on="product_id", how="left")
    products = (
        products.sort(LINE_COLUMN)
        .select(
            LINE_COLUMN,
            "product_id",
            "name",
            # the file's own category when it has one (Superstore's Category); else one derived
            # from the description, since retail exports such as Online Retail have none
            pl.coalesce("__file_category", category_expr(pl.col("name").fill_null(""))).alias("category"),
            pl.col("__file_subcategory").alias("subcategory"),
            pl.col("__file_brand").alias("brand"),
            "price",
            pl.lit(None, dtype=pl.String).alias("description"),
        )
    )
    with_customer = kept.filter(pl.col("customer_id").is_not_null())
    countries = _most_frequent(with_customer, "customer_id", "country", "country")
    customers = (
        with_customer.group_by("customer_id")
        .agg(pl.col(LINE_COLUMN).min())
        .join(countries, on="customer_id", how="left")
        .sort(LINE_COLUMN)
        .select(LINE_COLUMN, "customer_id", "country")
    )
    origin = path.name
    progress(f"{path.name} read", 1.0)
    n_cancel = orders.filter(pl.col("status") == "cancelled").height
    n_guest = orders.filter(pl.col("customer_id").is_null()).height
    n_charge = items.filter(pl.col("kind") == "charge").height
    shape = "transactions" if plain else "invoice lines"
    notes.append(
        f"{origin}: {kept.height + rejected.height:,} {shape} → {_count(orders.height, 'order')} "
        f"({n_cancel:,} cancelled, {_count(n_guest, 'guest order')} without a customer id), "
        f"{_count(n_charge, 'charge line')} (postage, fees, manual entries), {_count(products.height, 'product')}, "
        f"{_count(customers.height, 'customer')}"
        + (f"; categories from the file's '{headers['category']}' column" if "category" in headers
           else "; categories derived from descriptions by keyword" if products.height else "")
    )
    if plain:
        notes.append(f"{origin}: no order id column, so each row is one order")
    shared = kept.filter(pl.col("customer_id").is_not_null()).group_by("invoice").agg(
        pl.col("customer_id").n_unique().alias("n")).filter(pl.col("n") > 1)
    if shared.height:
        notes.append(f"{origin}: {_count(shared.height, 'order')} carry several customer ids; each is given to "
                     f"the customer of its first line (e.g. {shared['invoice'].sort()[0]})")
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


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _most_frequent(lines: pl.DataFrame, key: str, column: str, alias: str) -> pl.DataFrame:
    """``key`` → its most frequent non-null ``column`` value (ties: the one seen first)."""
    return (
        lines.filter(pl.col(column).is_not_null())
        .group_by(key, column)
        .agg(pl.len().alias("__n"), pl.col(LINE_COLUMN).min().alias("__first"))
        .sort([key, "__n", "__first"], descending=[False, True, False])
        .group_by(key, maintain_order=True)
        .agg(pl.col(column).first().alias(alias))
    )


def _money(quantity: pl.Series, price: pl.Series, amount: pl.Series, raw_quantity: pl.Series) -> list[pl.Series]:
    """quantity and unit_price of each line. With a unit price column, as read; with only an
    amount (the line's total), unit price = amount / quantity, or the amount itself with
    quantity 1 when the file has no quantity (so quantity × unit price is the amount)."""
    no_quantity = raw_quantity.is_null().all()
    q = pl.Series("quantity", [1] * len(quantity), dtype=pl.Int64) if no_quantity else quantity.alias("quantity")
    derived = pl.select(
        pl.when(price.is_not_null()).then(price)
        .when(q.is_not_null() & (q != 0)).then(amount / q)
        .otherwise(amount)
    ).to_series()
    return [q, derived.alias("unit_price")]


def _text(s: pl.Series) -> pl.Series:
    t = s.cast(pl.String, strict=False).str.strip_chars()
    return pl.select(pl.when(t.str.len_chars() == 0).then(None).otherwise(t)).to_series().alias(s.name)


def _rejects_frame(rejected: pl.DataFrame, reason_column: dict[str, str], headers: dict[str, str]) -> pl.DataFrame:
    """Rejected lines in the validator's reject layout, naming the file's own headers."""
    column = pl.col("__reason").replace_strict(reason_column, default="invoice")
    header = column.replace_strict(headers, default=column)
    value = pl.coalesce(
        *[pl.when(column == c).then(pl.col(f"__raw_{c}")) for c in
          ("invoice", "stock_code", "quantity", "unit_price", "amount", "invoice_date", "customer_id")]
    )
    return rejected.select(
        pl.lit("order_items").alias("table"),
        pl.col("__origin").alias("origin"),
        pl.col(LINE_COLUMN).cast(pl.Int64).alias("line"),
        header.alias("column"),
        value.cast(pl.String).alias("value"),
        pl.col("__reason").alias("reason"),
        # the line's quantity × price where both were read, for the reconciliation's total
        (pl.col("quantity").cast(pl.Float64) * pl.col("unit_price")).alias("amount"),
    )
