"""The HTML shell every raygen page shares: styles, the research-software banner, embedded pictures, tables.

Pages are single self-contained files (pictures embedded as ``data:`` PNG URIs, no scripts, no network), so
they open anywhere, mail as one attachment and print to PDF as they look.
"""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on servers

import matplotlib.pyplot as plt  # noqa: E402

#: The banner at the top of every page with evidence codes (issue #17: never a classification).
BANNER = ("Research software, not a diagnostic device. Evidence codes shown here are computational inputs "
          "(ACMG/AMP PP3/BP4) to a curator's classification, never a classification of a variant.")

STYLE = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px;color:#1b1b1b;max-width:1200px}
h1{font-size:24px;margin:8px 0} h2{font-size:19px;margin-top:28px;border-bottom:1px solid #ddd}
h3{font-size:16px;margin-top:20px}
.banner{background:#fff3cd;border:2px solid #b58900;padding:10px 14px;border-radius:6px;font-weight:600}
table{border-collapse:collapse;margin:8px 0;font-size:13px} th,td{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top} th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.code{display:inline-block;padding:1px 7px;border-radius:10px;font-weight:700;font-size:12px;margin:1px}
.PP3{background:#c62828;color:#fff} .BP4{background:#1565c0;color:#fff} .nocode{background:#e0e0e0;color:#333}
.muted{color:#666;font-size:12px} .toofew{color:#8a6d3b;font-style:italic}
figure{margin:12px 0} figcaption{font-size:12px;color:#555;max-width:900px}
code{background:#f5f5f5;padding:0 3px}
@media print{body{margin:10mm} .noprint{display:none}}
"""


def esc(x) -> str:
    return html.escape("" if x is None else str(x))


def figure_png(fig, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes (the figure closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def img(png: bytes, alt: str, caption: str | None = None, width: int | None = None) -> str:
    """An embedded picture (``data:`` URI) with its alternative text and an optional caption."""
    w = f" width='{width}'" if width else ""
    tag = f"<img alt='{esc(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'{w}>"
    return f"<figure>{tag}" + (f"<figcaption>{esc(caption)}</figcaption>" if caption else "") + "</figure>"


def table(headers: list[str], rows: list[list], *, cls: str = "", raw: bool = False, row_cls: str = "") -> str:
    """An HTML table; cells are escaped unless ``raw`` (cells already HTML). Numbers right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for r in rows:
        cells = []
        for c in r:
            klass = " class='num'" if isinstance(c, (int, float)) and not isinstance(c, bool) else ""
            cells.append(f"<td{klass}>{c if raw and isinstance(c, str) else esc(fmt(c))}</td>")
        body.append(f"<tr{f' class={row_cls!r}' if row_cls else ''}>{''.join(cells)}</tr>")
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def fmt(x, digits: int = 3) -> str:
    if isinstance(x, float):
        return "n/a" if x != x else f"{x:.{digits}f}"
    return "" if x is None else str(x)


def page(title: str, body: str, *, banner: bool = True) -> str:
    """A whole HTML document."""
    top = f"<div class='banner' id='banner'>{esc(BANNER)}</div>" if banner else ""
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body>{top}<h1>{esc(title)}</h1>{body}</body></html>")
