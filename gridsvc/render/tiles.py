"""Tile providers of map views and the datum their tiles are drawn in.

AMap tiles are in GCJ-02, so a map on them gets its geometries converted to GCJ-02 (or grids sit
some hundred metres off their streets); OpenStreetMap and Tianditu (CGCS2000, within centimetres
of WGS 84) get WGS 84. ``none`` draws no tiles: the map then needs no network at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import folium

from ..errors import InputError, Problem
from ..geo import GCJ02, WGS84

__all__ = ["TILES", "TileProvider", "add_tiles", "tile_provider"]


@dataclass(frozen=True, slots=True)
class TileProvider:
    """A tile source: URL templates (``{tk}`` = API key), attribution and datum."""

    name: str
    urls: tuple[str, ...]
    attribution: str
    datum: str
    subdomains: str = "abc"
    needs_key: bool = False


_TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
    "&TILECOL={x}&tk={tk}"
)
TILES: dict[str, TileProvider] = {
    "none": TileProvider("none", (), "", WGS84),
    "osm": TileProvider(
        "osm",
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",),
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        WGS84,
    ),
    "amap": TileProvider(
        "amap",
        (
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
            "&x={x}&y={y}&z={z}",
        ),
        "&copy; 高德地图 AutoNavi (GCJ-02)",
        GCJ02,
        subdomains="1234",
    ),
    "tianditu": TileProvider(
        "tianditu",
        (
            _TIANDITU.replace("{layer}", "vec", 2),
            _TIANDITU.replace("{layer}", "cva", 2),
        ),
        "&copy; 天地图 Tianditu (CGCS2000)",
        WGS84,
        subdomains="01234567",
        needs_key=True,
    ),
}


def tile_provider(name: str) -> TileProvider:
    """Return the provider called ``name``; an unknown name is an input error."""
    try:
        return TILES[name]
    except KeyError:
        raise InputError(
            Problem(f"unknown tiles {name!r}; use one of {', '.join(TILES)}", field="tiles")
        ) from None


def add_tiles(fmap: folium.Map, provider: TileProvider, *, key: str = "") -> None:
    """Add ``provider``'s tile layers to ``fmap`` (nothing for ``none``)."""
    if provider.needs_key and not key:
        raise InputError(
            Problem(
                f"tiles {provider.name!r} need an API key; set GRIDSVC_TIANDITU_KEY "
                "(free at console.tianditu.gov.cn) or use --tiles none|osm|amap",
                field="tiles",
            )
        )
    for i, url in enumerate(provider.urls):
        folium.TileLayer(
            tiles=url.replace("{tk}", key),
            attr=provider.attribution,
            name=provider.name if i == 0 else f"{provider.name} labels",
            subdomains=provider.subdomains,
            max_zoom=19 if provider.name == "osm" else 18,
            overlay=i > 0,
            control=False,
        ).add_to(fmap)
