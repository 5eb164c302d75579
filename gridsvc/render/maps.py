"""Folium map of one community: grids against the bounds, micro-grids, departmental layers, the
unified grid, buildings, households and care households, each a toggleable layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Element

from ..config import GridBounds
from ..geo import GCJ02, to_crs
from .colours import BAND_COLOURS, band, grid_colours
from .layers import (
    Registry,
    add_clustered_points,
    add_labels,
    add_points,
    add_polygons,
    escape,
)
from .legend import band_legend
from .tiles import add_tiles, tile_provider

if TYPE_CHECKING:
    from ..workflows import CommunityBundle

__all__ = ["BAND_COLOURS", "FULL", "PUBLIC", "MapAccess", "band", "community_map"]

CARE_COLOUR = "#d62828"
HOUSEHOLD_COLOUR = "#1d3557"


@dataclass(frozen=True, slots=True)
class MapAccess:
    """What personal data a map may show: households, care households, workers' phones."""

    households: bool = True
    care: bool = True
    phones: bool = True


FULL = MapAccess()
PUBLIC = MapAccess(households=False, care=False, phones=False)


def _on_tiles(frame: gpd.GeoDataFrame, datum: str) -> gpd.GeoDataFrame:
    return to_crs(frame, GCJ02) if datum == GCJ02 and len(frame) else frame


def _team(roster: pd.DataFrame | None, phones: bool) -> pd.Series:
    """HTML list of each grid's team (role label: name [phone]), indexed by grid code."""
    if roster is None or roster.empty:
        return pd.Series(dtype=object)
    phone = roster["phone"].fillna("").astype(str) if phones else pd.Series("", roster.index)
    lines = (
        "<br>"
        + roster["label"].map(escape)
        + ": "
        + roster["name"].map(escape)
        + phone.map(lambda p: f" ☎ {escape(p)}" if p else "")
    )
    return lines.groupby(roster["grid_code"]).sum()


def _memberships(grids: gpd.GeoDataFrame, layers: gpd.GeoDataFrame) -> pd.Series:
    """Which departmental grid of each layer holds each grid (by a point inside it)."""
    if grids.empty or layers.empty:
        return pd.Series("", index=grids["code"], dtype=object)
    points = gpd.GeoDataFrame(
        {"code": grids["code"]}, geometry=grids.representative_point(), crs=grids.crs
    )
    hits = gpd.sjoin(points, layers[["layer", "grid_id", "name", "geometry"]], predicate="within")
    named = hits["name"].where(hits["name"].fillna("").astype(str) != "", hits["grid_id"])
    text = "<br>" + hits["layer"].map(escape) + ": " + named.map(escape)
    return text.groupby(hits["code"]).sum().reindex(grids["code"], fill_value="")


def _grid_frame(grids: gpd.GeoDataFrame, bounds: GridBounds, team: pd.Series) -> gpd.GeoDataFrame:
    bands = [band(int(h), bounds) for h in grids["households"]]
    teams = team.reindex(grids["code"]).fillna("<br><i>no team assigned</i>").to_numpy()
    popup = (
        "<b>" + grids["code"].map(escape) + "</b><br>households: "
        + grids["households"].astype(int).astype(str) + " (" + pd.Series(bands, grids.index)
        + ") · residents: " + grids["residents"].fillna(0).astype(int).astype(str)
        + "<br><b>1+1+N team</b>" + pd.Series(teams, grids.index)
    )  # fmt: skip
    return gpd.GeoDataFrame(
        {
            "code": grids["code"],
            "households": grids["households"].astype(int),
            "band": bands,
            "fill": grid_colours(grids, bands=bands),
            "popup": popup,
        },
        geometry=grids.geometry,
        crs=grids.crs,
    )


Style = Callable[[dict[str, Any]], dict[str, Any]]


def _fill(weight: float, opacity: float, dash: str | None = None) -> Style:
    """Style from each feature's ``fill`` property: outline, fill opacity, dashes."""

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        out = {"color": "#333", "weight": weight, "fillColor": feature["properties"]["fill"]}
        return out | {"fillOpacity": opacity} | ({"dashArray": dash} if dash else {})

    return style


def community_map(
    bundle: CommunityBundle,
    *,
    bounds: GridBounds,
    tiles: str = "none",
    tile_key: str = "",
    roster: pd.DataFrame | None = None,
    access: MapAccess = FULL,
) -> folium.Map:
    """Draw a community as toggleable layers on ``tiles`` (geometries in the tiles' datum).

    ``roster`` has one row per grid team member: grid_code, label (role), name, phone; phones
    appear only when ``access.phones``. Households and care households appear only when
    ``access`` allows them, and as given (callers filter what a user may see).
    """
    provider = tile_provider(tiles)
    on = {  # every frame in the datum of the tiles
        name: _on_tiles(getattr(bundle, name), provider.datum)
        for name in ("community", "buildings", "households", "grids", "microgrids")
    }
    layer_grids = _on_tiles(bundle.layer_grids, provider.datum)
    if len(layer_grids) and len(on["community"]):
        layer_grids = layer_grids[layer_grids.intersects(on["community"].union_all())]
    x0, y0, x1, y1 = on["community"].total_bounds
    fmap = folium.Map(tiles=None, control_scale=True, maxZoom=20)
    fmap.fit_bounds([[y0, x0], [y1, x1]])
    add_tiles(fmap, provider, key=tile_key)
    registry = Registry()
    registry.add("community", add_polygons(
        fmap, on["community"][["code", "name", "geometry"]], name="community boundary",
        style=lambda _: {"color": "#111", "weight": 3, "fill": False},
    ))  # fmt: skip
    grids = on["grids"]
    if len(grids):
        frame = _grid_frame(grids, bounds, _team(roster, access.phones))
        registry.add("grids", add_polygons(
            fmap, frame, name="base grids (households vs bounds)", style=_fill(2, 0.5),
            tooltip=["code", "households", "band"], popup=True,
        ))  # fmt: skip
        registry.add("labels", add_labels(
            fmap, frame.assign(serial=frame["code"].str[12:]), column="serial",
            name="grid serials (code = community code + serial)",
        ))  # fmt: skip
        unified = gpd.GeoDataFrame(
            {"code": grids["code"], "fill": grid_colours(grids)},
            geometry=grids.geometry, crs=grids.crs,
        ).assign(popup=lambda f: "<b>" + f["code"].map(escape) + "</b>"
                 + _memberships(grids, layer_grids).to_numpy())  # fmt: skip
        registry.add("unified", add_polygons(
            fmap, unified, name="unified grid (一张网)", style=_fill(2, 0.3), tooltip=["code"],
            popup=True, show=False,
        ))  # fmt: skip
    micro = on["microgrids"]
    if len(micro):
        frame = gpd.GeoDataFrame(
            {"code": micro["code"], "households": micro["households"].astype(int),
             "fill": grid_colours(micro)},
            geometry=micro.geometry, crs=micro.crs,
        )  # fmt: skip
        registry.add("microgrids", add_polygons(
            fmap, frame, name="micro-grids", style=_fill(1, 0.25, "4"),
            tooltip=["code", "households"], show=False,
        ))  # fmt: skip
    for name, group in layer_grids.groupby("layer", sort=True):
        frame = gpd.GeoDataFrame(
            {"grid_id": group["grid_id"], "name": group["name"],
             "department": group["department"], "policy": group["policy"],
             "fill": grid_colours(group)},
            geometry=group.geometry, crs=group.crs,
        )  # fmt: skip
        dept = str(group["department"].iloc[0] or "")
        registry.add(f"layer:{name}", add_polygons(
            fmap, frame, name=f"layer: {name}" + (f" ({dept})" if dept else ""),
            style=_fill(2, 0.3), tooltip=["grid_id", "name", "department", "policy"], show=False,
        ))  # fmt: skip
    if len(on["buildings"]):
        registry.add("buildings", add_polygons(
            fmap, on["buildings"][["id", "name", "floors", "units", "use", "geometry"]],
            name="buildings", style=lambda _: {"color": "#4a4e69", "weight": 1,
                                               "fillOpacity": 0.6},
            tooltip=["id", "name", "floors", "units", "use"],
        ))  # fmt: skip
    homes = on["households"]
    if access.households and len(homes):
        where = (
            homes["building_id"].map(escape) + " unit " + homes["unit"].map(escape)
            + " floor " + homes["floor"].map(escape)
        )  # fmt: skip
        tooltip = homes["id"].map(escape) + " · " + where
        registry.add("households", add_clustered_points(
            fmap, homes.assign(tooltip=tooltip), name="households (clustered)",
            colour=HOUSEHOLD_COLOUR,
        ))  # fmt: skip
    care = homes[homes["care_tags"].fillna("").astype(str) != ""] if len(homes) else homes
    if access.care and len(care):
        popup = (
            "<b>" + care["id"].map(escape) + "</b><br>" + care["care_tags"].map(escape)
            + "<br>visits: " + care["visit_cadence"].map(escape)
        )  # fmt: skip
        registry.add("care", add_points(
            fmap, gpd.GeoDataFrame({"id": care["id"], "popup": popup}, geometry=care.geometry,
                                   crs=care.crs),
            name="care households (关爱对象)", colour=CARE_COLOUR, radius=4,
        ))  # fmt: skip
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.get_root().html.add_child(  # type: ignore[attr-defined]
        Element(band_legend(bounds, care=access.care and len(care) > 0))
    )
    registry.add_to(fmap)
    return fmap
