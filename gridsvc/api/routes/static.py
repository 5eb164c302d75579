"""Leaflet and its plugins, served from the npm install (``/static/vendor/{package}/{path}``).

Only the packages in :data:`gridsvc.render.assets.VENDOR_PACKAGES`; a path that leaves its
package folder is not found. Public: a page needs them before anyone signs in.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ...render.assets import STATIC_PREFIX, assets_dir, split_vendor_path, vendor_file
from ..deps import SettingsDep

__all__ = ["router"]

router = APIRouter(tags=["static"], include_in_schema=False)


@router.get(STATIC_PREFIX + "/{asset:path}")
def vendor_asset(asset: str, settings: SettingsDep) -> FileResponse:
    """One file of an allowed npm package, e.g. ``leaflet/dist/leaflet.js``."""
    package, path = split_vendor_path(asset)
    file = vendor_file(assets_dir(settings.assets_dir), package, path)
    return FileResponse(file, headers={"Cache-Control": "public, max-age=86400"})
