"""Deterministic generators of realistic Chinese communities, cities and departmental layers."""

from ._plan import BARRIER_COLUMNS, SITE_USES, CommunityData
from .city import generate_city, iter_city
from .city_files import CityFiles, write_city
from .community import YUDU, CommunityFacts, generate_community, generate_yudu
from .layers import generate_layers

__all__ = [
    "BARRIER_COLUMNS",
    "SITE_USES",
    "YUDU",
    "CityFiles",
    "CommunityData",
    "CommunityFacts",
    "generate_city",
    "generate_community",
    "generate_layers",
    "generate_yudu",
    "iter_city",
    "write_city",
]
