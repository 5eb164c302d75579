"""City overview: every community coloured by its share of base grids within the bounds."""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Element

from ..config import GridBounds
from ..geo import GCJ02, to_crs
from .colours import band, share_colour
from .layers import Registry, add_labels, add_polygons, escape
from .legend import share_legend
from .tiles import add_tiles, tile_provider

__all__ = ["city_map", "community_shares"]


def community_shares(
    communities: gpd.GeoDataFrame, grids: pd.DataFrame, bounds: GridBounds
) -> gpd.GeoDataFrame:
    """Return ``communities`` with grids, within (count) and share (None without grids)."""
    within = grids["households"].astype(int).map(lambda h: band(h, bounds) == "within")
    counts = (
        pd.DataFrame({"community_code": grids["community_code"], "within": within})
        .groupby("community_code")["within"]
        .agg(["size", "sum"])
    )
    out = communities.copy()
    out["grids"] = out["code"].map(counts["size"]).fillna(0).astype(int)
    out["within"] = out["code"].map(counts["sum"]).fillna(0).astype(int)
    shares = [w / g if g else None for w, g in zip(out["within"], out["grids"], strict=True)]
    out["share"] = pd.Series(shares, index=out.index, dtype=object)
    return out


def city_map(
    communities: gpd.GeoDataFrame,
    grids: pd.DataFrame,
    *,
    bounds: GridBounds,
    tiles: str = "none",
    tile_key: str = "",
) -> folium.Map:
    """Draw ``communities`` coloured by the share of their base ``grids`` within ``bounds``."""
    provider = tile_provider(tiles)
    shares = community_shares(communities, grids, bounds)
    if provider.datum == GCJ02 and len(shares):
        shares = to_crs(shares, GCJ02)
    share_text = shares["share"].map(lambda s: "no grids" if s is None else f"{s:.0%}")
    frame = gpd.GeoDataFrame(
        {
            "code": shares["code"],
            "name": shares["name"],
            "grids": shares["grids"],
            "within": shares["within"],
            "share": share_text,
            "fill": shares["share"].map(share_colour),
            "popup": "<b>" + shares["name"].map(escape) + "</b> " + shares["code"].map(escape)
            + "<br>" + shares["within"].astype(str) + " of " + shares["grids"].astype(str)
            + " base grids within " + f"{bounds.min_households}–{bounds.max_households}"
            + " households (" + share_text + ")",
        },
        geometry=shares.geometry,
        crs=shares.crs,
    )  # fmt: skip
    fmap = folium.Map(tiles=None, control_scale=True, maxZoom=20)
    if len(frame):
        x0, y0, x1, y1 = frame.total_bounds
        fmap.fit_bounds([[y0, x0], [y1, x1]])
    add_tiles(fmap, provider, key=tile_key)
    registry = Registry()
    registry.add("communities", add_polygons(
        fmap, frame, name="communities (share of grids within bounds)",
        style=lambda f: {"color": "#222", "weight": 2, "fillOpacity": 0.6,
                         "fillColor": f["properties"]["fill"]},
        tooltip=["code", "name", "share"], popup=True,
    ))  # fmt: skip
    if len(frame):
        registry.add("labels", add_labels(fmap, frame, column="name", name="community names"))
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.get_root().html.add_child(Element(share_legend()))  # type: ignore[attr-defined]
    registry.add_to(fmap)
    return fmap
