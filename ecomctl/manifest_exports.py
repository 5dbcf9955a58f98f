"""Load stage, mapping: a shop system's table (a Shopify product export, a Google Merchant Center feed, or any
export named by `--columns`) → RawRow values in manifest fields, each remembering the source cell it came from."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ecomctl.errors import ConfigError
from ecomctl.manifest_files import FIELDS, REQUIRED, Problems, RawRow
from ecomctl.outcome import counted
from ecomctl.textsafe import neutralise

Records = Iterator[tuple[int, list[str]]]

# a feed's ISO 4217 code → what a poster shows before the amount; a code not here keeps the feed's text
CURRENCIES = {
    "CNY": "¥", "RMB": "¥", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$", "TWD": "NT$",
    "MOP": "MOP$", "SGD": "S$", "AUD": "A$", "CAD": "C$", "NZD": "NZ$", "KRW": "₩", "INR": "₹", "THB": "฿",
    "VND": "₫", "PHP": "₱", "RUB": "₽", "TRY": "₺", "ILS": "₪", "BRL": "R$", "MXN": "MX$",
}
_AMOUNT = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_PRICE = re.compile(rf"^(?:(?P<amount>{_AMOUNT})\s*(?P<code>[A-Za-z]{{3}})|(?P<code2>[A-Za-z]{{3}})\s*(?P<amount2>{_AMOUNT}))$")
_NUMBER = re.compile(rf"^(?:{_AMOUNT})$")


def poster_price(text: str) -> str:
    """A price as a poster shows it: "299.00 CNY" → "¥299", "19.90 EUR" → "€19.90", "39.00" → "39" (whole
    amounts lose their zero cents, real cents stay); a currency code not in CURRENCIES, or text that is not
    an amount, is kept as written."""
    value = text.strip()
    if _NUMBER.match(value):
        return _whole(value)
    m = _PRICE.match(value)
    if not m:
        return text
    amount, code = (m["amount"], m["code"]) if m["amount"] else (m["amount2"], m["code2"])
    symbol = CURRENCIES.get(code.upper())
    return f"{symbol}{_whole(amount)}" if symbol else text


def _amount(text: str) -> float | None:
    """The amount of an export's price ("299.00 CNY", "USD 39", "19.90"), None when it is not one."""
    value = text.strip()
    m = _PRICE.match(value)
    number = (m["amount"] or m["amount2"]) if m else value if _NUMBER.match(value) else None
    return float(number.replace(",", "")) if number else None


def _above(was: str, price: str) -> bool:
    """Whether `was` is a higher amount than `price` (the only list price worth striking through)."""
    a, b = _amount(was), _amount(price)
    return a is not None and b is not None and a > b


def _whole(amount: str) -> str:
    whole, _, cents = amount.partition(".")
    return whole if not cents.strip("0") else amount


@dataclass(frozen=True)
class Mapped:
    rows: list[RawRow]
    used: str  # the one line `validate` prints: which mapping, which columns


def parse_columns(text: str) -> dict[str, str]:
    """`sku=ItemID,title=Name` → {"sku": "ItemID", "title": "Name"}; every bad entry named in one error. A
    column name with a comma (or a quote) is quoted as in a CSV cell: `title="Name, short"` (or the whole
    entry, `"title=Name, short"`); `""` inside quotes is one quote."""
    pairs: dict[str, str] = {}
    bad: list[str] = []
    parts = _split_columns(text)
    if parts is None:
        raise ConfigError(neutralise(f"--columns: a quote (\") is opened and never closed in {text!r}; quote a "
                                     'column name with a comma as title="Name, short"'))
    last = ""  # the field the entry before named (a bare entry after it may be the rest of its column name)
    for part in (p.strip() for p in parts):
        if not part:
            continue
        name, eq, source = (s.strip() for s in part.partition("="))
        name = name.lower()
        if not eq and last:
            whole = f"{pairs[last]}, {part}".replace('"', '""')
            bad.append(f"{part!r} is not FIELD=COLUMN (a column name with a comma? quote it: {last}=\"{whole}\")")
        elif not eq or not name or not source:
            bad.append(f"{part!r} is not FIELD=COLUMN")
        elif name not in FIELDS:
            close = difflib.get_close_matches(name, FIELDS, n=1)
            bad.append(f"unknown field {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        elif name in pairs:
            bad.append(f"{name!r} given twice")
        else:
            pairs[name] = source
            last = name
            continue
        last = ""
    if not pairs and not bad:
        bad.append("no FIELD=COLUMN given")
    if bad:
        raise ConfigError(neutralise(f"--columns: {'; '.join(bad)} (fields: {', '.join(FIELDS)})"))
    return pairs


def _split_columns(text: str) -> list[str] | None:
    """--columns' entries: split at commas outside double quotes, the quotes dropped (`""` inside quotes
    is one quote); None when a quote is never closed."""
    parts, cell, quoted, i = [], [], False, 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            if quoted and text[i + 1:i + 2] == '"':
                cell.append('"')
                i += 1
            else:
                quoted = not quoted
        elif ch == "," and not quoted:
            parts.append("".join(cell))
            cell = []
        else:
            cell.append(ch)
        i += 1
    if quoted:
        return None
    return [*parts, "".join(cell)]


def _quoted(name: str) -> str:
    """A column name as --columns would take it back: quoted when it holds a comma or a quote."""
    return '"' + name.replace('"', '""') + '"' if "," in name or '"' in name else name


def map_table(head_line: int, head: list[str], records: Records, problems: Problems,
              columns: dict[str, str] | None) -> Mapped | None:
    """The rows of a table read through `columns` (from --columns) or a known export recognised by its
    header; None for a table in manifest fields (read as it is)."""
    index = _index(head)
    if columns is not None:
        return _by_columns(head_line, index, records, problems, columns)
    if all(r in index for r in ("id", "title", "image_link", "price")):
        return _merchant(index, records, problems)
    shopify = {role: next((index[n] for n in names if n in index), 0) for role, names in SHOPIFY.items()}
    if all(shopify[r] for r in ("handle", "title", "image", "price")):
        return _shopify(head, shopify, records, problems)
    return None


def _index(head: list[str]) -> dict[str, int]:
    """Header name (lower case; a feed's `g:` prefix and `image link` spelling folded) → first column (1-based)."""
    index: dict[str, int] = {}
    for i, name in enumerate(head, start=1):
        key = name.strip().lower()
        index.setdefault(key, i)
        feed = key.removeprefix("g:").replace(" ", "_")
        index.setdefault(feed, i)
    return index


def _cell(values: list[str], col: int) -> str:
    return values[col - 1].strip() if 0 < col <= len(values) else ""


def _too_wide(line: int, values: list[str], width: int, problems: Problems) -> None:
    if len(values) > width:
        problems.add(line, width + 1, f"{len(values)} cells but the header has {width}")


def _by_columns(head_line: int, index: dict[str, int], records: Records, problems: Problems,
                columns: dict[str, str]) -> Mapped:
    """--columns names a source column per field; a field it does not name is read from a column of that
    name, as in a plain manifest; every other column is ignored."""
    missing = [src for src in columns.values() if src.strip().lower() not in index]
    if missing:
        problems.add(head_line, 1, f"--columns: no column {', '.join(map(repr, dict.fromkeys(missing)))} in "
                                   "the header")
        return Mapped([], "")
    cols = {f: index[f] for f in FIELDS if f in index and f not in columns}
    cols |= {f: index[src.strip().lower()] for f, src in columns.items()}
    unnamed = [f for f in REQUIRED if f not in cols]
    for f in unnamed:
        problems.add(head_line, 1, f"missing required column {f!r} (name one with --columns {f}=COLUMN)")
    if unnamed:
        return Mapped([], "")  # the one line says it; not one more per row
    width = max(index.values(), default=0)
    rows = []
    for line, values in records:
        if not any(v.strip() for v in values):
            continue
        _too_wide(line, values, width, problems)
        data = {f: values[c - 1] for f, c in cols.items() if c <= len(values)}
        if data.get("price"):
            data["price"] = poster_price(data["price"])
        rows.append(RawRow(data, line, dict(cols)))
    named = ", ".join(f"{_quoted(src)} → {f}" for f, src in columns.items())
    shown = "; prices as a poster shows them" if "price" in cols else ""
    return Mapped(rows, f"mapped by --columns: {named}{shown}")


def _merchant(index: dict[str, int], records: Records, problems: Problems) -> Mapped:
    """A Google Merchant Center feed: one item per row. id → sku, title, image_link → image, brand →
    subtitle (and the logo, with a logo folder); an item on sale (sale_price) is drawn at its sale price
    with its price struck through (list_price); without one, price → price."""
    cols = {"sku": index["id"], "title": index["title"], "image": index["image_link"]}
    if "brand" in index:
        cols["subtitle"] = index["brand"]
    width = max(index.values())
    rows = []
    for line, values in records:
        if not any(v.strip() for v in values):
            continue
        _too_wide(line, values, width, problems)
        data = {f: _cell(values, c) for f, c in cols.items()}
        row_cols = dict(cols)
        sale, regular = _cell(values, index.get("sale_price", 0)), _cell(values, index["price"])
        if sale:
            data["price"], row_cols["price"] = poster_price(sale), index["sale_price"]
            if _above(regular, sale):
                data["list_price"], row_cols["list_price"] = poster_price(regular), index["price"]
        else:
            data["price"], row_cols["price"] = poster_price(regular), index["price"]
        brand = (data["subtitle"], line, cols["subtitle"]) if data.get("subtitle") else None
        rows.append(RawRow(data, line, row_cols, brand=brand))
    brand = ", brand → subtitle (or logo, with --logos)" if "brand" in index else ""
    sale = " (an item on sale: sale_price → price, price → list_price)" if "sale_price" in index else ""
    return Mapped(rows, f"mapped as a Google Merchant Center feed: id → sku, title → title, image_link → image, "
                        f"price → price{sale}{brand}")


# a Shopify product export's columns by role: the classic names first, then the 2024 export's
SHOPIFY = {
    "handle": ("handle", "url handle"), "title": ("title",), "sku": ("variant sku", "sku"),
    "price": ("variant price", "price"), "compare": ("variant compare at price", "compare-at price"),
    "image": ("image src", "product image url"), "variant_image": ("variant image", "variant image url"),
    "option1": ("option1 value",), "option2": ("option2 value",), "option3": ("option3 value",),
    "vendor": ("vendor",), "status": ("status",),
}
SKIPPED_STATUS = ("archived",)  # products Shopify keeps but no longer sells; drafts (not yet on sale) render
_VARIANT = ("sku", "price", "option1", "option2", "option3")


@dataclass
class _Product:
    handle: str
    line: int
    title: tuple[str, int] | None = None  # (text, line)
    image: tuple[str, int] | None = None
    vendor: str = ""
    status: str = ""
    variants: list[tuple[int, list[str]]] = field(default_factory=list)  # (line, cells)


def _shopify(head: list[str], col: dict[str, int], records: Records, problems: Problems) -> Mapped:
    """A Shopify product export: a product's first row carries its title, every variant its own row (SKU,
    price, option values), extra images rows of only Handle + image columns. One SKU per product (its
    Handle) or, for a product with several variants, one per variant (its Variant SKU)."""
    products: dict[str, _Product] = {}
    width = len(head)
    for line, values in records:
        if not any(v.strip() for v in values):
            continue
        _too_wide(line, values, width, problems)
        handle = _cell(values, col["handle"])
        if not handle:
            problems.add(line, col["handle"], f"{head[col['handle'] - 1].strip()}: empty; every row of a "
                                              "Shopify export names its product")
            continue
        p = products.setdefault(handle, _Product(handle, line))
        title, image = _cell(values, col["title"]), _cell(values, col["image"])
        if title and p.title is None:
            p.title = (title, line)
        if image and p.image is None:
            p.image = (image, line)
        p.vendor = p.vendor or _cell(values, col["vendor"])
        p.status = p.status or _cell(values, col["status"]).lower()
        if any(_cell(values, col[r]) for r in _VARIANT):
            p.variants.append((line, values))
    skipped = [p for p in products.values() if p.status in SKIPPED_STATUS]
    rows = [row for p in products.values() if p.status not in SKIPPED_STATUS
            for row in _product_rows(p, head, col, problems)]
    names = {r: head[col[r] - 1].strip() for r in SHOPIFY if col[r]}
    used = (f"mapped as a Shopify product export: {names['handle']} → sku (or {names.get('sku', 'Variant SKU')}"
            f" when a product has several variants), {names['title']} → title, {names['image']} → image, "
            f"{names['price']} → price")
    if "compare" in names:
        used += f", {names['compare']} → list_price (when above the price)"
    if "vendor" in names:
        used += f", {names['vendor']} → logo (with --logos)"
    if skipped:
        drafts = sum(p.status == "draft" for p in products.values())
        used += (f"; {counted(len(skipped), 'archived product')} skipped ({names['status']})"
                 + (f", {counted(drafts, 'draft')} kept" if drafts else ""))
    return Mapped(rows, used)


def _product_rows(p: _Product, head: list[str], col: dict[str, int], problems: Problems) -> Iterator[RawRow]:
    title, title_line = p.title or ("", p.line)
    variants = p.variants or [(p.line, [])]
    for line, values in variants:
        data = {"title": title}
        cols, lines = {"title": col["title"]}, {"title": title_line}
        variant_image = _cell(values, col["variant_image"])
        if variant_image and (len(variants) > 1 or p.image is None):  # a variant's own photo shows that variant
            data["image"], cols["image"], lines["image"] = variant_image, col["variant_image"], line
        elif p.image is not None:
            data["image"], cols["image"], lines["image"] = p.image[0], col["image"], p.image[1]
        else:
            data["image"], cols["image"], lines["image"] = "", col["image"], p.line
        price, compare = _cell(values, col["price"]), _cell(values, col["compare"])
        if price:
            data["price"], cols["price"], lines["price"] = poster_price(price), col["price"], line
            if _above(compare, price):  # Shopify writes an empty, zero or equal compare-at price for "not on sale"
                data["list_price"], cols["list_price"], lines["list_price"] = poster_price(compare), col["compare"], line
        if len(variants) == 1:
            data["sku"], cols["sku"], lines["sku"] = p.handle, col["handle"], p.line
        else:
            sku = _cell(values, col["sku"])
            if not sku:
                problems.add(line, col["sku"] or col["handle"],
                             f"{head[(col['sku'] or col['handle']) - 1].strip()}: empty; product {p.handle!r} has "
                             f"{len(variants)} variants, so each needs its own SKU")
                continue
            options = [o for o in (_cell(values, col[f"option{i}"]) for i in (1, 2, 3)) if o]
            data["sku"], cols["sku"], lines["sku"] = sku, col["sku"], line
            data["title"] = " ".join([title, " / ".join(options)]).strip() if title else ""
        yield RawRow(data, line, cols, lines, brand=(p.vendor, p.line, col["vendor"]) if p.vendor else None)
