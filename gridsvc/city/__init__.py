"""City runs: every community of a city partitioned (merged, staffed) on Dask into the store."""

from .inputs import CityInputs, CommunityJob, index_city, read_community
from .run import CityReport, dask_client, run_city
from .task import Outcome, run_community

__all__ = [
    "CityInputs",
    "CityReport",
    "CommunityJob",
    "Outcome",
    "dask_client",
    "index_city",
    "read_community",
    "run_city",
    "run_community",
]
