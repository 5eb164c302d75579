"""Read, validate, repair and import input files (GeoJSON, GeoPackage, Shapefile, CSV, Parquet)."""

from gridsvc.ingest.importer import ImportReport, import_file, load_frame
from gridsvc.ingest.readers import SHAPEFILE_NAMES, read_any
from gridsvc.ingest.validate import Checked, validate

__all__ = [
    "SHAPEFILE_NAMES",
    "Checked",
    "ImportReport",
    "import_file",
    "load_frame",
    "read_any",
    "validate",
]
