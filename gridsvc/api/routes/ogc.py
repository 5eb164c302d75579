"""OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0) over the published grids.

Collections: ``communities``, ``grids`` (base grids), ``microgrids`` (level 2 and deeper) and
``layer-<name>`` per departmental layer. These are boundaries the notice boards publish anyway,
with no personal data, so anyone may read them (like ``/locate``). Items are paged by key
(:class:`gridsvc.api.listing.Listing`): ``next`` links carry a ``cursor``; ``limit`` above
:data:`gridsvc.api.paging.MAX_LIMIT` is capped (OGC 17-069r4 /req/core/fc-limit-response-1),
never refused.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from ...errors import NotFoundError
from ...geo import feature_collection
from ...store import repo
from ..deps import SessionDep
from ..listing import PublicListingDep
from ..paging import GEOJSON

__all__ = ["CONFORMANCE", "router"]

router = APIRouter(prefix="/ogc", tags=["ogc"])
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
JSON = "application/json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
LAYER = "layer-"
_FIXED = {
    "communities": ("communities", "code", "Communities (社区/村)"),
    "grids": ("grids", "code", "Base grids (基础网格)"),
    "microgrids": ("grids", "code", "Micro-grids (微网格)"),
}


def _link(href: str, rel: str, kind: str, title: str = "") -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": kind}
    return {**link, "title": title} if title else link


def _collections(session: Session) -> dict[str, tuple[str, str, str]]:
    out = dict(_FIXED)
    for layer in repo.layer_names(session):
        out[LAYER + layer] = ("layer_grids", "grid_id", f"Departmental layer {layer}")
    return out


def _collection(session: Session, cid: str) -> tuple[str, str, str]:
    known = _collections(session)
    if cid not in known:
        raise NotFoundError(f"collection {cid!r} does not exist; known: {', '.join(known)}")
    return known[cid]


def _describe(request: Request, cid: str, title: str) -> dict[str, Any]:
    items = str(request.url_for("ogc_items", collection_id=cid))
    return {
        "id": cid,
        "title": title,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link(str(request.url_for("ogc_collection", collection_id=cid)), "self", JSON),
            _link(items, "items", GEOJSON, "the features"),
        ],
    }


@router.get("", name="ogc_landing")
def landing(request: Request) -> dict[str, Any]:
    """The landing page: links to the API definition, conformance and collections."""
    return {
        "title": "gridsvc grids",
        "description": "Published community grids, micro-grids and departmental layers",
        "links": [
            _link(str(request.url_for("ogc_landing")), "self", JSON),
            _link(
                str(request.url_for("openapi")),
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.0",
            ),
            _link(str(request.url_for("swagger_ui_html")), "service-doc", "text/html"),
            _link(str(request.url_for("ogc_conformance")), "conformance", JSON),
            _link(str(request.url_for("ogc_collections")), "data", JSON),
        ],
    }


@router.get("/conformance", name="ogc_conformance")
def conformance() -> dict[str, list[str]]:
    """The conformance classes implemented."""
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", name="ogc_collections")
def collections(request: Request, session: SessionDep) -> dict[str, Any]:
    """Every collection: communities, grids, micro-grids and one per departmental layer."""
    return {
        "links": [_link(str(request.url_for("ogc_collections")), "self", JSON)],
        "collections": [
            _describe(request, cid, title) for cid, (_, _, title) in _collections(session).items()
        ],
    }


@router.get("/collections/{collection_id}", name="ogc_collection")
def collection(request: Request, collection_id: str, session: SessionDep) -> dict[str, Any]:
    """One collection's description."""
    return _describe(request, collection_id, _collection(session, collection_id)[2])


@router.get("/collections/{collection_id}/items", name="ogc_items", response_class=JSONResponse)
def items(collection_id: str, listing: PublicListingDep) -> JSONResponse:
    """A page of features, filtered by ``bbox`` and read in the database in key order; the
    ``next`` link carries a ``cursor`` (the last key) to the page after."""
    kind, key, _ = _collection(listing.session, collection_id)
    return listing.keyed(
        kind,
        id_column=key,
        layer=collection_id[len(LAYER) :] if collection_id.startswith(LAYER) else None,
        level=1 if collection_id == "grids" else None,
        min_level=2 if collection_id == "microgrids" else None,
    )


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    name="ogc_item",
    response_class=JSONResponse,
)
def item(
    request: Request, collection_id: str, feature_id: str, session: SessionDep
) -> JSONResponse:
    """One feature: a keyed read of that one row."""
    kind, key, _ = _collection(session, collection_id)
    layer = collection_id[len(LAYER) :] if collection_id.startswith(LAYER) else None
    level = 1 if collection_id == "grids" else None
    hit = repo.read(session, kind, ids=[feature_id], layer=layer, level=level)
    if collection_id == "microgrids":
        hit = hit[hit["level"] >= 2]
    if hit.empty:
        raise NotFoundError(f"feature {feature_id!r} is not in collection {collection_id!r}")
    feature: dict[str, Any] = feature_collection(hit, id_column=key)["features"][0]
    collection_url = str(request.url_for("ogc_collection", collection_id=collection_id))
    feature["links"] = [
        _link(str(request.url), "self", GEOJSON),
        _link(collection_url, "collection", JSON),
    ]
    return JSONResponse(feature, media_type=GEOJSON)
