"""The frame every infrec page shares: one inline style sheet (no external asset, so a saved report
opens offline), a viewport for phones, and the optional live script the web pages pass in.

Layout rules: figures sit in a grid that is two or three columns at 1280 px and one on a phone;
wide tables scroll inside their own box instead of widening the page; a status is always written
as a word, never shown by colour alone."""

from __future__ import annotations

from html import escape

STYLE = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1440px;
 padding:1rem 1.5rem 2rem;color:#1d1d1f;background:#fff}
h1{font-size:1.55rem;margin:.3rem 0 .2rem;word-break:break-word}
h2{font-size:1.2rem;margin:2rem 0 .6rem;padding-bottom:.2rem;border-bottom:1px solid #ddd}
h3{font-size:1rem;margin:.2rem 0 .4rem}
a{color:#0b57a4}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;margin:.4rem 0;font-size:.88rem}
th,td{border:1px solid #d4d4d4;padding:.28rem .5rem;text-align:right;white-space:nowrap;vertical-align:top}
th{background:#f2f2f2;font-weight:600}
td.l,th.l{text-align:left}
td.w{white-space:normal;min-width:16rem;text-align:left}
td.m{white-space:normal;min-width:8.5rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:1rem}
.grid.one{grid-template-columns:minmax(0,880px)}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,480px),1fr));gap:.4rem 1rem}
.card{border:1px solid #ddd;border-radius:8px;padding:.7rem .9rem;background:#fcfcfc;min-width:0}
figure.chart{margin:0;overflow-x:auto}
svg.plot{width:100%;height:auto;display:block;font-family:inherit}
svg text.tk{font-size:13px;fill:#444}
svg text.al{font-size:14px;fill:#222}
svg text.pl{font-size:12.5px;fill:#111;paint-order:stroke;stroke:#fff;stroke-width:3px}
ul.legend{list-style:none;padding:0;margin:.3rem 0 0;display:flex;flex-wrap:wrap;gap:.15rem 1.1rem;font-size:.84rem}
ul.legend li{display:flex;align-items:center;gap:.3rem}
svg.sw{flex:none}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.7rem;margin:.8rem 0}
.kpi{border:1px solid #ddd;border-radius:8px;padding:.5rem .8rem;background:#f8fafc}
.kpi b{display:block;font-size:1.25rem}
.kpi small{color:#555}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:99px;border:1px solid currentColor;font-size:.8rem;
 font-weight:600;letter-spacing:.02em}
.COMPLETED{color:#116329}.FAILED,.fail{color:#b00020}.STOPPED,.STOPPING{color:#7a4d00}
.IN_PROGRESS,.PENDING{color:#0b57a4}.pass{color:#116329}.warn{color:#8a5300}
.muted,small{color:#555}
.bar{position:relative;height:.55rem;background:#e6e6e6;border-radius:4px;min-width:6rem;overflow:hidden}
.bar>span{position:absolute;left:0;top:0;bottom:0;background:#0b57a4}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.6rem 0}
.btn,button{font:inherit;font-size:.88rem;padding:.3rem .8rem;border:1px solid #888;border-radius:6px;background:#f4f4f4;
 color:#1d1d1f;text-decoration:none;cursor:pointer}
button.stop{border-color:#b00020;color:#b00020;background:#fff}
form.inline{display:inline;margin:0}
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin:.6rem 0}
.filters label{display:flex;flex-direction:column;font-size:.82rem;color:#444}
.filters input,.filters select{font:inherit;padding:.25rem .4rem;min-width:10rem}
details{margin:.4rem 0}
summary{cursor:pointer;font-weight:600}
.live{font-size:.85rem;color:#333;white-space:normal}
@media (max-width:640px){
 body{padding:.6rem .7rem 1.5rem;font-size:14px}
 h1{font-size:1.25rem}
 .filters input,.filters select{min-width:7rem}
 svg text.tk{font-size:22px}
 svg text.al{font-size:23px}
 svg text.pl{font-size:20px}
 td.w{min-width:12rem}
}
@media print{.actions,form,.filters{display:none}}
"""


def document(title: str, body: str, *, script: str | None = None) -> str:
    """A whole HTML page; `script` (static text, never built from data) is placed at the end."""
    tail = f"<script>{script}</script>" if script else ""
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'   # no /favicon.ico request (a 404 in the console)
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}{tail}</body></html>")


def badge(status: str) -> str:
    s = escape(status)
    return f'<span class="badge {s}">{s}</span>'


def table(headers: list[str], rows: list[list[str]], left: int = 1, wrap: tuple[int, ...] = (),
          narrow: tuple[int, ...] = ()) -> str:
    """An HTML table of already-escaped cells in a horizontally scrolling box; the first `left`
    columns are left-aligned text, the `wrap` columns (notes) and `narrow` ones (a figure with its
    interval) may break lines."""
    def cls(i: int) -> str:
        return "w" if i in wrap else ("m" if i in narrow else ("l" if i < left else ""))
    head = "".join(f'<th class="{"l" if i < left or i in wrap else ""}">{escape(h)}</th>'
                   for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{cls(i)}">{c}</td>' for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
