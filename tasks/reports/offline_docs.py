"""GX data docs that open offline: no CDN styles or scripts, index tables rendered as plain HTML, no GIFs.

Contract: ``offline_html`` takes one page of the data docs Great Expectations builds and returns a
page that needs nothing from the network. GX's pages load Bootstrap, jQuery, bootstrap-table,
Font Awesome and Vega from CDNs; its index page has no table rows in its HTML at all (bootstrap-
table fills them from a JavaScript literal), so offline it is an empty page. Here the external
``<link>``/``<script>`` tags are removed, each ``bootstrapTable({columns, data})`` call is turned
into a static ``<table>`` (rows link to their validation page as the clickable rows did), and a
small stylesheet of our own is inlined. GX's GIFs (3 MB of tutorial animations no page shows) are
left out by ``DROPPED_SUFFIXES``. The pages' remaining inline scripts only add interactivity.
"""

from __future__ import annotations

import ast
import html as html_lib
import re

DROPPED_SUFFIXES = (".gif",)
_EXTERNAL = re.compile(
    r"<link\b[^>]*\bhref=[\"']https?://[^>]*>|<script\b[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>"
    r"|<img\b[^>]*\bsrc=[\"']https?://[^>]*>",
    re.IGNORECASE | re.DOTALL,
)
_TABLE_CALL = re.compile(r"\$\(['\"]#([\w-]+)['\"]\)\.bootstrapTable\(")
OFFLINE_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 1.5rem; color: #222; }
a { color: #2f6690; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #c8d3dc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #2f6690; color: #fff; }
tr:nth-child(even) td { background: #eef3f7; }
.cooltip > span, .tooltip, .modal, .d-none, .sr-only { display: none; }
.text-success { color: #4e9a06; } .text-danger { color: #c0504d; }
.fa-check-circle::before { content: "\\2714"; } .fa-times::before, .fa-times-circle::before { content: "\\2716"; }
nav, .navbar, .sticky { position: static !important; }
"""


def offline_html(page: str) -> str:
    """One data-docs page without network dependencies (see the module docstring)."""
    page = _static_tables(page)
    page = _EXTERNAL.sub("", page)
    style = f"<style>{OFFLINE_CSS}</style>"
    if re.search(r"</head>", page, re.IGNORECASE):
        return re.sub(r"</head>", lambda _: style + "</head>", page, count=1, flags=re.IGNORECASE)
    return style + page


def _literal(text: str, start: int) -> tuple[object, int] | None:
    """The Python-style list literal starting at ``text[start]`` (``[``) and the index after it."""
    depth, quote, i = 0, "", start
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                try:
                    return ast.literal_eval(text[start : i + 1]), i + 1
                except (ValueError, SyntaxError):
                    return None
        i += 1
    return None


def _static_tables(page: str) -> str:
    for match in list(_TABLE_CALL.finditer(page)):
        table_id = match.group(1)
        window = page[match.end() : match.end() + 2_000_000]
        found = {}
        for key in ("columns", "data"):
            at = re.search(rf"\b{key}\s*:\s*\[", window)
            parsed = _literal(window, at.end() - 1) if at else None
            if parsed is None:
                break
            found[key] = parsed[0]
        if len(found) < 2:
            continue
        rendered = _table_html(table_id, found["columns"], found["data"])
        page = re.sub(
            rf"<table\b[^>]*\bid=\"{re.escape(table_id)}\"[^>]*>\s*</table>",
            lambda _, r=rendered: r,
            page,
            count=1,
        )
    return page


def _table_html(table_id: str, columns: object, rows: object) -> str:
    if not isinstance(columns, list) or not isinstance(rows, list):
        return ""
    fields = [
        (str(c.get("field", "")), str(c.get("title", c.get("field", "")))) for c in columns if isinstance(c, dict)
    ]
    head = "".join(f"<th>{html_lib.escape(title)}</th>" for _, title in fields)
    body = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        link = row.get("_table_row_link_path")
        cells = []
        for field, _ in fields:
            value = str(row.get(field, ""))  # GX puts HTML in these cells (icons, names): kept as is
            if link and field == "expectation_suite_name":
                value = f'<a href="{html_lib.escape(str(link))}">{value}</a>'
            cells.append(f"<td>{value}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
