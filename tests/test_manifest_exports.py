"""Shop exports read with no hand conversion, made the way those systems write them: a Shopify product export
(one row per variant or extra image), a Google Merchant Center feed (TSV and CSV), any other export through
--columns; feed prices drawn as a poster shows them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.errors import ConfigError, ManifestError
from ecomctl.manifest import load_manifest
from ecomctl.manifest_exports import parse_columns, poster_price
from tests.conftest import make_product

runner = CliRunner()
FAST = "qa:\n  text:\n    enabled: false\nrender:\n  variants: 1\n  size: 512x512\n"

# a Shopify product export's header, in the order Shopify writes it (the classic export)
SHOPIFY_HEADER = [
    "Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags", "Published",
    "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value", "Option3 Name", "Option3 Value",
    "Variant SKU", "Variant Grams", "Variant Inventory Tracker", "Variant Inventory Qty", "Variant Inventory Policy",
    "Variant Fulfillment Service", "Variant Price", "Variant Compare At Price", "Variant Requires Shipping",
    "Variant Taxable", "Variant Barcode", "Image Src", "Image Position", "Image Alt Text", "Gift Card",
    "SEO Title", "SEO Description", "Variant Image", "Variant Weight Unit", "Variant Tax Code", "Cost per item",
    "Status",
]
MAPPED_SHOPIFY = ("mapped as a Shopify product export: Handle → sku (or Variant SKU when a product has several "
                  "variants), Title → title, Image Src → image, Variant Price → price, Variant Compare At Price → "
                  "list_price (when above the price), Vendor → logo (with --logos)")
MAPPED_FEED = ("mapped as a Google Merchant Center feed: id → sku, title → title, image_link → image, price → price "
               "(an item on sale: sale_price → price, price → list_price), brand → subtitle (or logo, with --logos)")


def _product(handle: str, **cells: str) -> dict[str, str]:
    """A row as Shopify fills it: the product's first row carries its details, the others only Handle and
    the variant or image columns."""
    return {"Handle": handle, **cells}


def _shopify_rows() -> list[dict[str, str]]:
    first = {"Body (HTML)": "<p>Rich, light, <b>48 h</b></p>", "Vendor": "Acme", "Published": "TRUE",
             "Variant Inventory Tracker": "shopify", "Variant Inventory Policy": "deny",
             "Variant Fulfillment Service": "manual", "Variant Requires Shipping": "TRUE", "Variant Taxable": "TRUE",
             "Gift Card": "FALSE", "Variant Weight Unit": "kg", "Status": "active"}
    return [
        # a product with 2 variants; its second image sits on the second variant's row, as Shopify writes it
        _product("hydra-cream", Title="Hydra Cream", **first, **{
            "Option1 Name": "Size", "Option1 Value": "50 ml", "Variant SKU": "HC-50", "Variant Price": "299.00",
            "Variant Compare At Price": "399.00", "Image Src": "cream.png", "Image Position": "1"}),
        _product("hydra-cream", **{"Option1 Value": "100 ml", "Variant SKU": "HC-100", "Variant Price": "459.00",
                                   "Variant Compare At Price": "", "Image Src": "cream-side.png",
                                   "Image Position": "2", "Variant Image": "cream-100.png"}),
        # one variant (Shopify's "Default Title") and an extra image row
        _product("travel-mug", Title="Travel Mug", **first, **{
            "Option1 Name": "Title", "Option1 Value": "Default Title", "Variant SKU": "", "Variant Price": "19.90",
            "Image Src": "mug.png", "Image Position": "1"}),
        _product("travel-mug", **{"Image Src": "mug-back.png", "Image Position": "2", "Image Alt Text": "back"}),
        # one variant, one image
        _product("lip-balm", Title="Lip Balm", **first, **{
            "Option1 Name": "Title", "Option1 Value": "Default Title", "Variant SKU": "LB-1", "Variant Price": "5.00",
            "Image Src": "balm.png", "Image Position": "1"}),
    ]


def _write_shopify(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:  # Shopify writes UTF-8, comma, LF
        w = csv.DictWriter(f, SHOPIFY_HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def _images(tmp: Path, *names: str) -> None:
    for name in names:
        make_product(tmp / name)


def _config(tmp: Path) -> Path:
    (tmp / "fast.yaml").write_text(FAST, encoding="utf-8")
    return tmp / "fast.yaml"


FEED = [
    ["id", "title", "description", "link", "image_link", "availability", "price", "sale_price", "brand",
     "condition", "gtin"],
    ["A-1", "保湿面霜", "48 h, light", "https://shop.example/a-1", "cream.png", "in stock", "299.00 CNY", "",
     "Hydra", "new", "6901234567892"],
    ["B-2", "Travel Mug", "Steel, 350 ml", "https://shop.example/b-2", "mug.png", "in stock", "39.00 USD",
     "29.50 USD", "Acme", "new", ""],
]


def _write_feed(path: Path, rows: list[list[str]], delimiter: str) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return path


# ------------------------------------------------------------------------------------------------- prices

@pytest.mark.parametrize(("feed", "poster"), [
    ("299.00 CNY", "¥299"), ("39.00 USD", "$39"), ("19.90 EUR", "€19.90"), ("19.9 EUR", "€19.9"),
    ("12.00 GBP", "£12"), ("1500 JPY", "¥1500"), ("88.00 HKD", "HK$88"), ("99.00 RMB", "¥99"),
    ("1,299.00 USD", "$1,299"), ("USD 39.00", "$39"), ("15.00 usd", "$15"), ("299.00", "299"), ("5.50", "5.50"),
    ("100.00 XYZ", "100.00 XYZ"), ("限时 99", "限时 99"), ("¥99", "¥99"), ("29,90 €", "29,90 €"),
])
def test_poster_price(feed: str, poster: str) -> None:
    assert poster_price(feed) == poster


# ------------------------------------------------------------------------------------------------- Shopify

def test_shopify_export_one_sku_per_product_or_variant(tmp_path: Path) -> None:
    _images(tmp_path, "cream.png", "cream-100.png", "mug.png", "balm.png")
    path = _write_shopify(tmp_path / "products_export.csv", _shopify_rows())
    m = load_manifest(path)
    assert [(r.sku, r.title, r.image.name, r.price, r.list_price, r.subtitle) for r in m.rows] == [
        ("HC-50", "Hydra Cream 50 ml", "cream.png", "299", "399", None),      # first image; compare-at above
        ("HC-100", "Hydra Cream 100 ml", "cream-100.png", "459", None, None),  # its own Variant Image
        ("travel-mug", "Travel Mug", "mug.png", "19.90", None, None),       # Handle; the extra image row is no SKU
        ("lip-balm", "Lip Balm", "balm.png", "5", None, None),              # one variant: Handle, not Variant SKU
    ]
    assert [r.where.rsplit(":", 1)[1] for r in m.rows] == ["2", "3", "4", "6"]
    assert m.mapping == MAPPED_SHOPIFY


def test_shopify_validate_says_the_mapping(tmp_path: Path) -> None:
    _images(tmp_path, "cream.png", "cream-100.png", "mug.png", "balm.png")
    path = _write_shopify(tmp_path / "products_export.csv", _shopify_rows())
    res = runner.invoke(app, ["validate", str(path), "--config", str(_config(tmp_path))])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [f"{path}: ok — 4 SKUs, 4 posters", "read as UTF-8 text, comma-separated",
                                       MAPPED_SHOPIFY]


def test_shopify_2024_column_names(tmp_path: Path) -> None:
    """Shopify's newer export names the same columns URL handle, SKU, Price, Compare-at price, Product image URL."""
    make_product(tmp_path / "cream.png")
    path = tmp_path / "products_export_1.csv"
    path.write_text("URL handle,Title,Description,Vendor,Option1 name,Option1 value,SKU,Price,Compare-at price,"
                    "Product image URL,Image position,Variant image URL\n"
                    "hydra-cream,Hydra Cream,,Acme,Title,Default Title,HC,29.00,35.00,cream.png,1,\n",
                    encoding="utf-8")
    m = load_manifest(path)
    assert [(r.sku, r.title, r.image.name, r.price) for r in m.rows] == [("hydra-cream", "Hydra Cream", "cream.png",
                                                                          "29")]
    assert m.mapping.startswith("mapped as a Shopify product export: URL handle → sku (or SKU when")


def test_shopify_problems_name_the_source_cell(tmp_path: Path) -> None:
    """A variant with no SKU, a Variant SKU that is not a valid SKU, a missing image: file:row:column of the
    export's own cell."""
    _images(tmp_path, "cream.png")
    rows = _shopify_rows()
    rows[1]["Variant SKU"] = ""  # the second variant of a 2-variant product
    rows[0]["Variant SKU"] = "HC 50"  # a space: not a SKU
    rows[4]["Image Src"] = "gone.png"
    del rows[2]["Title"]  # a product row with no title
    path = _write_shopify(tmp_path / "products_export.csv", rows)
    sku_col = SHOPIFY_HEADER.index("Variant SKU") + 1
    img_col = SHOPIFY_HEADER.index("Image Src") + 1
    res = runner.invoke(app, ["validate", str(path), "--config", str(_config(tmp_path))])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        f"error: {path}:2:{sku_col}: sku: String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]{{0,79}}$'",
        f"error: {path}:3:{sku_col}: Variant SKU: empty; product 'hydra-cream' has 2 variants, so each needs its own SKU",
        f"error: {path}:4:2: title: required, but empty",
        f"error: {path}:4:{img_col}: image: file not found: mug.png",
        f"error: {path}:6:{img_col}: image: file not found: gone.png",
    ]


def test_shopify_compare_at_price_is_the_list_price_only_when_above(tmp_path: Path) -> None:
    """Shopify writes the compare-at price empty, 0.00 or equal to the price for a product not on sale."""
    _images(tmp_path, "cream.png", "mug.png", "balm.png")
    rows = _shopify_rows()
    rows[2]["Variant Compare At Price"] = "19.90"  # equal: nothing struck through
    rows[4]["Variant Compare At Price"] = "0.00"
    rows[0]["Variant Compare At Price"] = "1,299.00"
    path = _write_shopify(tmp_path / "products_export.csv", [rows[0], rows[2], rows[3], rows[4]])
    assert [(r.sku, r.price, r.list_price) for r in load_manifest(path).rows] == [
        ("hydra-cream", "299", "1,299"), ("travel-mug", "19.90", None), ("lip-balm", "5", None)]


def test_shopify_archived_products_are_skipped_and_drafts_render(tmp_path: Path) -> None:
    _images(tmp_path, "cream.png", "cream-100.png", "mug.png", "balm.png")
    rows = _shopify_rows()
    rows[2]["Status"] = "archived"  # travel-mug: no longer sold (its extra image row has no Status)
    rows[4]["Status"] = "draft"  # lip-balm: not on sale yet, its poster is made ahead
    path = _write_shopify(tmp_path / "products_export.csv", rows)
    res = runner.invoke(app, ["validate", str(path), "--config", str(_config(tmp_path))])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [f"{path}: ok — 3 SKUs, 3 posters", "read as UTF-8 text, comma-separated",
                                       MAPPED_SHOPIFY + "; 1 archived product skipped (Status), 1 draft kept"]
    rows[2]["Image Src"] = "gone.png"  # an archived product's problems are not the catalog's
    assert [r.sku for r in load_manifest(_write_shopify(path, rows)).rows] == ["HC-50", "HC-100", "lip-balm"]


def test_a_brand_is_drawn_as_its_logo_from_the_logo_folder(tmp_path: Path) -> None:
    """--logos DIR: DIR/<brand>.png in any case; a brand without a file is one warning line, not an error."""
    _images(tmp_path, "cream.png", "mug.png", "cream-100.png", "balm.png")
    logos = tmp_path / "logos"
    logos.mkdir()
    make_product(logos / "ACME.png")
    (logos / "hydra.txt").write_text("not an image", encoding="utf-8")  # never a logo
    feed = _write_feed(tmp_path / "feed.tsv", FEED, "\t")
    m = load_manifest(feed, logos=logos)
    assert [(r.sku, r.logo, r.subtitle) for r in m.rows] == [
        ("A-1", None, "Hydra"),  # no hydra.png: the brand stays the subtitle
        ("B-2", (logos / "ACME.png").resolve(), None),  # the logo says the brand
    ]
    assert m.notes == ((f"no logo for brand 'Hydra' in {logos} (looked for Hydra.png, any case); 1 SKU drawn "
                        "without one"),)
    res = runner.invoke(app, ["validate", str(feed), "--logos", str(logos), "--config", str(_config(tmp_path))])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [f"warning: {m.notes[0]}"]
    shop = _write_shopify(tmp_path / "products_export.csv", _shopify_rows())  # Vendor: Acme on every product
    assert {r.logo for r in load_manifest(shop, logos=logos).rows} == {(logos / "ACME.png").resolve()}
    assert {r.logo for r in load_manifest(shop).rows} == {None}  # no folder: no logo
    res = runner.invoke(app, ["validate", str(shop), "--logos", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: input.logos {tmp_path / 'nope'}: not a folder of logos")


# ------------------------------------------------------------------------------------------------- Merchant feed

@pytest.mark.parametrize(("name", "delimiter", "read_as"), [
    ("feed.tsv", "\t", "UTF-8 text, tab-separated"), ("feed.txt", "\t", "UTF-8 text, tab-separated"),
    ("feed.csv", ",", "UTF-8 text, comma-separated"),
])
def test_merchant_feed(tmp_path: Path, name: str, delimiter: str, read_as: str) -> None:
    _images(tmp_path, "cream.png", "mug.png")
    path = _write_feed(tmp_path / name, FEED, delimiter)
    m = load_manifest(path)
    assert [(r.sku, r.title, r.image.name, r.price, r.list_price, r.subtitle) for r in m.rows] == [
        ("A-1", "保湿面霜", "cream.png", "¥299", None, "Hydra"),
        ("B-2", "Travel Mug", "mug.png", "$29.50", "$39", "Acme"),  # on sale: the price struck through
    ]
    res = runner.invoke(app, ["validate", str(path), "--config", str(_config(tmp_path))])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [f"{path}: ok — 2 SKUs, 2 posters", f"read as {read_as}", MAPPED_FEED]


def test_merchant_feed_attribute_spellings(tmp_path: Path) -> None:
    """Delimited feeds may write `image link` with a space, and some tools keep the XML's `g:` prefix."""
    make_product(tmp_path / "cream.png")
    path = tmp_path / "feed.txt"
    path.write_text("g:id\tg:title\tg:image link\tg:price\nA-1\tCream\tcream.png\t12.00 GBP\n", encoding="utf-8")
    m = load_manifest(path)
    assert [(r.sku, r.title, r.image.name, r.price, r.subtitle) for r in m.rows] == [
        ("A-1", "Cream", "cream.png", "£12", None)]
    assert m.mapping.startswith("mapped as a Google Merchant Center feed: id → sku")
    assert "brand" not in m.mapping


def test_merchant_feed_problems_name_the_source_cell(tmp_path: Path) -> None:
    make_product(tmp_path / "cream.png")
    rows = [FEED[0], ["shop/A 1", "T", "", "", "cream.png", "", "299.00 CNY", "", "", "", ""],
            ["B-2", "T", "", "", "", "", "1234567890123456789012345.00 USD", "", "", "", ""]]
    path = _write_feed(tmp_path / "feed.tsv", rows, "\t")
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    assert e.value.problems == [
        f"{path}:2:1: sku: String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]{{0,79}}$'",
        f"{path}:3:5: image: required, but empty",
        f"{path}:3:7: price: String should have at most 24 characters",
    ]


# ------------------------------------------------------------------------------------------------- --columns

def _items(tmp: Path) -> Path:
    make_product(tmp / "p.png")
    path = tmp / "items.csv"
    path.write_text("ItemID,Name,Photo,Cost,Colour\nI-1,Serum,p.png,12.00 EUR,red\nI-2,Mask,p.png,8,blue\n",
                    encoding="utf-8")
    return path


def test_columns_map_any_export(tmp_path: Path) -> None:
    path = _items(tmp_path)
    cols = "sku=ItemID, title=Name,image=Photo,price=Cost"
    m = load_manifest(path, columns=cols)
    assert [(r.sku, r.title, r.image.name, r.price) for r in m.rows] == [("I-1", "Serum", "p.png", "€12"),
                                                                         ("I-2", "Mask", "p.png", "8")]
    res = runner.invoke(app, ["validate", str(path), "--columns", cols, "--config", str(_config(tmp_path))])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [
        f"{path}: ok — 2 SKUs, 2 posters", "read as UTF-8 text, comma-separated",
        "mapped by --columns: ItemID → sku, Name → title, Photo → image, Cost → price; prices as a poster shows them"]
    assert load_manifest(path, columns="sku=ItemID,title=Name,image=Photo").mapping == (
        "mapped by --columns: ItemID → sku, Name → title, Photo → image")


def test_columns_take_unnamed_fields_from_their_own_column(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    path = tmp_path / "items.csv"
    path.write_text("sku,Name,image,Badge\nS1,Serum,p.png,New\n", encoding="utf-8")
    assert [(r.sku, r.title, r.badge) for r in load_manifest(path, columns="title=Name").rows] == [
        ("S1", "Serum", "New")]  # `Badge` is a field's name, ignoring case, as in a plain manifest


@pytest.mark.parametrize("cols", ['sku=Item,title="Name, short",image=Photo,badge="Size ""XL"""',
                                  '"sku=Item","title=Name, short",image=Photo,"badge=Size ""XL"""'])
def test_columns_name_a_header_with_a_comma_in_quotes(tmp_path: Path, cols: str) -> None:
    make_product(tmp_path / "p.png")
    path = tmp_path / "items.csv"
    path.write_text('Item,"Name, short",Photo,"Size ""XL"""\nS1,Serum,p.png,New\n', encoding="utf-8")
    res = runner.invoke(app, ["validate", str(path), "--columns", cols])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[2] == ('mapped by --columns: Item → sku, "Name, short" → title, Photo → image, '
                                          '"Size ""XL""" → badge')
    assert [(r.sku, r.title, r.badge) for r in load_manifest(path, columns=cols).rows] == [("S1", "Serum", "New")]


def test_columns_with_a_quote_never_closed(tmp_path: Path) -> None:
    res = runner.invoke(app, ["validate", str(_items(tmp_path)), "--columns", 'sku=ItemID,title="Name, short'])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [("error: --columns: a quote (\") is opened and never closed in "
                                        "'sku=ItemID,title=\"Name, short'; quote a column name with a comma as "
                                        'title="Name, short"')]


@pytest.mark.parametrize(("cols", "message"), [
    ("sku=ItemID,titel=Name", "--columns: unknown field 'titel' (did you mean 'title'?)"),
    ("sku=ItemID,colour=Colour,Name", "--columns: unknown field 'colour'; 'Name' is not FIELD=COLUMN"),
    ("sku=ItemID,sku=Name", "--columns: 'sku' given twice"),
    ("sku=ItemID,title=Name, short", ("--columns: 'short' is not FIELD=COLUMN (a column name with a comma? "
                                      'quote it: title="Name, short")')),
    (" , ", "--columns: no FIELD=COLUMN given"),
])
def test_columns_bad_field_names(tmp_path: Path, cols: str, message: str) -> None:
    path = _items(tmp_path)
    res = runner.invoke(app, ["validate", str(path), "--columns", cols])
    assert res.exit_code == 2
    fields = ("sku, image, title, subtitle, price, badge, subject, style, prompt, size, template, variants, seed, "
              "lang, campaign, logo, points, list_price, price_label")
    assert res.stderr.splitlines() == [f"error: {message} (fields: {fields})"]
    with pytest.raises(ConfigError):
        parse_columns(cols)


def test_columns_missing_source_columns_and_required_fields(tmp_path: Path) -> None:
    path = _items(tmp_path)
    res = runner.invoke(app, ["validate", str(path), "--columns", "sku=Item ID,title=Nme,image=Photo"])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"error: {path}:1:1: --columns: no column 'Item ID', 'Nme' in the header"]
    res = runner.invoke(app, ["validate", str(path), "--columns", "sku=ItemID,title=Name"])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        f"error: {path}:1:1: missing required column 'image' (name one with --columns image=COLUMN)"]


def test_columns_on_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("- sku: A\n  image: p.png\n  title: t\n", encoding="utf-8")
    res = runner.invoke(app, ["validate", str(path), "--columns", "sku=id"])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [(f"error: {path}: --columns maps the columns of a table (CSV, TSV, Excel); "
                                        "a YAML manifest names its fields itself")]


def test_columns_on_an_excel_export(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    make_product(tmp_path / "p.png")
    wb = openpyxl.Workbook()
    wb.active.append(["Article", "Bezeichnung", "Bild", "Preis"])
    wb.active.append(["A-7", "Creme", "p.png", "19.90 EUR"])
    wb.save(tmp_path / "artikel.xlsx")
    m = load_manifest(tmp_path / "artikel.xlsx", columns="sku=Article,title=Bezeichnung,image=Bild,price=Preis")
    assert [(r.sku, r.title, r.price) for r in m.rows] == [("A-7", "Creme", "€19.90")]


def test_a_plain_manifest_is_not_mapped(tmp_path: Path) -> None:
    """A manifest in our own fields keeps its prices as written and says no mapping."""
    make_product(tmp_path / "p.png")
    path = tmp_path / "m.csv"
    path.write_text("sku,image,title,price\nA,p.png,T,299.00 CNY\n", encoding="utf-8")
    m = load_manifest(path)
    assert (m.rows[0].price, m.mapping) == ("299.00 CNY", "")


# ------------------------------------------------------------------------------------------------- render

def test_shop_exports_render_with_no_hand_conversion(tmp_path: Path) -> None:
    _images(tmp_path, "cream.png", "mug.png")
    shop = _write_shopify(tmp_path / "products_export.csv", _shopify_rows()[2:4])  # travel-mug + its image row
    feed = _write_feed(tmp_path / "feed.tsv", FEED[:2], "\t")
    for path, sku in ((shop, "travel-mug"), (feed, "A-1")):
        res = runner.invoke(app, ["render", str(path), "--out", str(tmp_path / "out"),
                                  "--config", str(_config(tmp_path))])
        assert res.exit_code == 0, res.output
        assert f"pass    {sku}-v1" in res.stdout.splitlines()
        sidecar = (tmp_path / "out" / sku / f"{sku}-v1.json").read_text(encoding="utf-8")
        assert ("19.90" if sku == "travel-mug" else "¥299") in sidecar
    from PIL import Image

    assert Image.open(tmp_path / "out" / "A-1" / "A-1-v1.png").size == (512, 512)
