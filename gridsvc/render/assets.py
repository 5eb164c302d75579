"""Browser assets (Leaflet and plugins) installed from npm at set-up and served by gridsvc.

``npm ci`` puts them under ``<repo>/node_modules`` (or the ``GRIDSVC_ASSETS_DIR`` setting). Map
pages never load them from a public CDN: the API page links ``/static/vendor/...`` URLs that
gridsvc serves (:mod:`gridsvc.api.routes.static`), and an HTML file written by the CLI carries
them inline, so it opens from disk with no network.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, NotFoundError

__all__ = [
    "MAP_ASSETS",
    "STATIC_PREFIX",
    "VENDOR_PACKAGES",
    "Asset",
    "assets_dir",
    "inline_tag",
    "link_tag",
    "split_vendor_path",
    "vendor_file",
]

ROOT = Path(__file__).resolve().parents[2]
STATIC_PREFIX = "/static/vendor"
VENDOR_PACKAGES = ("leaflet", "leaflet.markercluster", "@geoman-io/leaflet-geoman-free")
_CSS_URL = re.compile(r"url\((['\"]?)([^)'\"]+)\1\)")


@dataclass(frozen=True, slots=True)
class Asset:
    """One file of an npm package: ``package`` and ``path`` inside it (``dist/...``)."""

    package: str
    path: str

    @property
    def kind(self) -> str:
        return "css" if self.path.endswith(".css") else "js"

    @property
    def url(self) -> str:
        return f"{STATIC_PREFIX}/{self.package}/{self.path}"


# What a folium map view needs, in load order.
MAP_ASSETS = (
    Asset("leaflet", "dist/leaflet.css"),
    Asset("leaflet.markercluster", "dist/MarkerCluster.css"),
    Asset("leaflet.markercluster", "dist/MarkerCluster.Default.css"),
    Asset("leaflet", "dist/leaflet.js"),
    Asset("leaflet.markercluster", "dist/leaflet.markercluster.js"),
)


def assets_dir(configured: Path | None = None) -> Path:
    """Return the folder holding the npm packages (``node_modules`` of the repo by default)."""
    return (configured or ROOT / "node_modules").resolve()


def split_vendor_path(asset: str) -> tuple[str, str]:
    """Split ``leaflet/dist/leaflet.js`` into an allowed package and the path inside it."""
    for package in sorted(VENDOR_PACKAGES, key=len, reverse=True):
        if asset.startswith(package + "/"):
            return package, asset[len(package) + 1 :]
    raise NotFoundError(
        f"no vendor asset {asset!r}; gridsvc serves only {', '.join(VENDOR_PACKAGES)}"
    )


def vendor_file(root: Path, package: str, path: str) -> Path:
    """Return the file ``path`` of an allowed ``package`` under ``root``; never outside it."""
    if package not in VENDOR_PACKAGES:
        raise NotFoundError(
            f"no vendor package {package!r}; gridsvc serves only {', '.join(VENDOR_PACKAGES)}"
        )
    base = (root / package).resolve()
    if not base.is_dir():
        raise ConfigError(
            f"browser assets are not installed: {base} is missing; run `npm ci --omit=dev` in "
            "the repository (scripts/setup.sh does) or set GRIDSVC_ASSETS_DIR"
        )
    target = (base / path).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        raise NotFoundError(f"no file {path!r} in vendor package {package}")
    return target


def link_tag(asset: Asset) -> str:
    """A ``<link>`` or ``<script src>`` tag loading ``asset`` from gridsvc's static route."""
    if asset.kind == "css":
        return f'<link rel="stylesheet" href="{asset.url}"/>'
    return f'<script src="{asset.url}"></script>'


def inline_tag(root: Path, asset: Asset) -> str:
    """A ``<style>`` or ``<script>`` tag carrying ``asset`` itself (CSS images as data URIs)."""
    file = vendor_file(root, asset.package, asset.path)
    text = file.read_text(encoding="utf-8")
    if asset.kind == "css":
        return f"<style>\n{_embed_css_urls(text, file.parent)}\n</style>"
    return "<script>\n" + text.replace("</script", "<\\/script") + "\n</script>"


def _embed_css_urls(css: str, folder: Path) -> str:
    def embed(match: re.Match[str]) -> str:
        ref = match.group(2)
        if ref.startswith(("data:", "#")):
            return match.group(0)
        file = (folder / ref).resolve()
        if not file.is_file():
            return match.group(0)
        mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        data = base64.b64encode(file.read_bytes()).decode("ascii")
        return f'url("data:{mime};base64,{data}")'

    return _CSS_URL.sub(embed, css)
