"""Building blocks of map views: polygon and point layers, labels, clusters, a layer registry.

Every layer goes through :func:`gridsvc.geo.feature_collection` (the one GeoJSON builder) and
carries only the properties it shows. Text that reaches a popup or tooltip is HTML-escaped here.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from typing import Any

import folium
import geopandas as gpd
from branca.element import MacroElement
from folium.plugins import FastMarkerCluster
from jinja2 import Template

from ..geo import feature_collection

__all__ = [
    "Registry",
    "add_clustered_points",
    "add_labels",
    "add_points",
    "add_polygons",
    "escape",
]


def escape(value: object) -> str:
    """HTML-escape a value for a popup or tooltip (None and NaN become an empty string)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value))


class Registry(MacroElement):  # type: ignore[misc]
    """Expose the map and its layers to page scripts as ``window.gridsvc`` (tests use it)."""

    _template = Template(
        "{% macro script(this, kwargs) %}\n"
        "window.gridsvc = {map: {{ this._parent.get_name() }}, layers: { "
        "{% for key, layer in this.layers %}{{ key|tojson }}: {{ layer.get_name() }},{% endfor %}"
        " }};\n{% endmacro %}"
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "GridsvcRegistry"
        self.layers: list[tuple[str, Any]] = []

    def add(self, key: str, layer: Any) -> None:
        self.layers.append((key, layer))


def add_polygons(
    fmap: folium.Map,
    frame: gpd.GeoDataFrame,
    *,
    name: str,
    style: Callable[[dict[str, Any]], dict[str, Any]],
    tooltip: Sequence[str] = (),
    aliases: Sequence[str] | None = None,
    popup: bool = False,
    show: bool = True,
) -> folium.GeoJson:
    """Add ``frame`` as one toggleable GeoJSON layer; ``popup`` shows its ``popup`` column."""
    layer = folium.GeoJson(
        feature_collection(frame),
        name=name,
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=list(tooltip), aliases=aliases, sticky=True)
        if tooltip
        else None,
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=360) if popup else None,
        show=show,
    )
    layer.add_to(fmap)
    return layer


def add_points(
    fmap: folium.Map,
    frame: gpd.GeoDataFrame,
    *,
    name: str,
    colour: str,
    radius: int = 6,
    show: bool = True,
) -> folium.GeoJson:
    """Add points as circle markers with a popup from their ``popup`` column."""
    layer = folium.GeoJson(
        feature_collection(frame),
        name=name,
        marker=folium.CircleMarker(
            radius=radius, color="#222", weight=1, fill=True, fill_color=colour, fill_opacity=0.9
        ),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=300),
        show=show,
    )
    layer.add_to(fmap)
    return layer


_CIRCLE = """function (row) {
    var marker = L.circleMarker(new L.LatLng(row[0], row[1]),
        {radius: 4, color: '%s', weight: 1, fillOpacity: 0.8});
    marker.bindTooltip(row[2]);
    return marker;
}"""


def add_clustered_points(
    fmap: folium.Map, frame: gpd.GeoDataFrame, *, name: str, colour: str, show: bool = True
) -> FastMarkerCluster:
    """Add many points as clustered circle markers (leaflet.markercluster) with tooltips."""
    data = [
        [round(p.y, 7), round(p.x, 7), text]
        for p, text in zip(frame.geometry, frame["tooltip"], strict=True)
    ]
    cluster = FastMarkerCluster(
        data, callback=_CIRCLE % json.dumps(colour)[1:-1], name=name, show=show
    )
    cluster.add_to(fmap)
    return cluster


def add_labels(
    fmap: folium.Map, frame: gpd.GeoDataFrame, *, column: str, name: str, show: bool = True
) -> folium.FeatureGroup:
    """Add a label per polygon (its ``column``) at a point inside it."""
    group = folium.FeatureGroup(name=name, show=show)
    for point, text in zip(frame.representative_point(), frame[column], strict=True):
        folium.Marker(
            [point.y, point.x],
            icon=folium.DivIcon(
                html=f'<div class="gridsvc-label">{escape(text)}</div>',
                icon_size=(64, 14),
                icon_anchor=(32, 7),
            ),
        ).add_to(group)
    group.add_to(fmap)
    return group
