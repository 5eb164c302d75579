"""Map views: renderers return a ``folium.Map``; callers save it."""

from .maps import community_map

__all__ = ["community_map"]
