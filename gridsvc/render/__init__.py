"""Map views: renderers return a ``folium.Map``; callers save it with :func:`page_html`."""

from .city import city_map
from .maps import FULL, PUBLIC, MapAccess, community_map
from .page import page_html
from .tiles import TILES

__all__ = ["FULL", "PUBLIC", "TILES", "MapAccess", "city_map", "community_map", "page_html"]
