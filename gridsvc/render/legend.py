"""Legends of map views, drawn as fixed HTML boxes on the page."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import GridBounds
from .colours import BAND_COLOURS, SHARE_STEPS, SHARE_TOP
from .layers import escape

__all__ = ["STYLE", "band_legend", "share_legend"]

STYLE = (
    "<style>.gridsvc-legend{position:fixed;bottom:56px;left:12px;z-index:9999;background:#fff;"
    "padding:6px 10px;border:1px solid #999;border-radius:4px;font:12px sans-serif}"
    ".gridsvc-legend i{width:12px;height:12px;display:inline-block;margin-right:4px;"
    "vertical-align:middle}.gridsvc-label{font:bold 11px sans-serif;color:#111;"
    "text-align:center;text-shadow:0 0 3px #fff,0 0 3px #fff;white-space:nowrap}</style>"
)


def _box(title: str, rows: Sequence[tuple[str, str]], note: str = "") -> str:
    body = "".join(f'<div><i style="background:{c}"></i>{escape(label)}</div>' for label, c in rows)
    foot = f'<div style="color:#555;max-width:220px">{escape(note)}</div>' if note else ""
    return f'<div class="gridsvc-legend"><b>{escape(title)}</b>{body}{foot}</div>'


def band_legend(bounds: GridBounds, *, care: bool) -> str:
    """Legend of a community map: household bands, plus the care-household marker if shown."""
    rows = [
        (f"under {bounds.min_households} households", BAND_COLOURS["under"]),
        (f"{bounds.min_households}–{bounds.max_households} households", BAND_COLOURS["within"]),
        (f"over {bounds.max_households} households", BAND_COLOURS["over"]),
        ("no households", BAND_COLOURS["empty"]),
    ]
    if care:
        rows.append(("care household (关爱对象)", "#d62828"))
    return STYLE + _box(
        "Base grids",
        rows,
        "Shades of one hue keep touching grids apart; click a grid for its 1+1+N team.",
    )


def share_legend() -> str:
    """Legend of the city overview: share of a community's grids within bounds."""
    rows, low = [], 0.0
    for limit, colour in SHARE_STEPS:
        rows.append((f"{low:.0%}–{limit:.0%} of grids within bounds", colour))
        low = limit
    rows.append((f"{low:.0%} or more", SHARE_TOP))
    rows.append(("no grids yet", BAND_COLOURS["empty"]))
    return STYLE + _box("Communities", rows)
