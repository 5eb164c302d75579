"""Create the initial schema: communities, buildings, households, layers, grids, workers.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

The same schema on SpatiaLite and PostGIS; every geometry is SRID 4326 with a spatial index
(GeoAlchemy2's table events register SpatiaLite columns with RecoverGeometryColumn and build
CreateSpatialIndex / GiST indexes).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry, alembic_helpers

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

SRID = 4326


def _area() -> sa.Column:
    return sa.Column("geom", Geometry("GEOMETRY", srid=SRID, spatial_index=True), nullable=True)


def _point() -> sa.Column:
    return sa.Column("geom", Geometry("POINT", srid=SRID, spatial_index=True), nullable=True)


def upgrade() -> None:
    """Create every table with its keys, indexes and spatial indexes."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "communities",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String),
        sa.Column("level", sa.String(32)),
        sa.Column("parent_code", sa.String(32)),
        _area(),
    )
    op.create_table(
        "buildings",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("community_code", sa.String(32)),
        sa.Column("name", sa.String),
        sa.Column("floors", sa.Integer),
        sa.Column("units", sa.Integer),
        sa.Column("use", sa.String(32)),
        sa.Column("compound", sa.String),
        _area(),
    )
    op.create_index("ix_buildings_community_code", "buildings", ["community_code"])
    op.create_table(
        "households",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("community_code", sa.String(32)),
        sa.Column("building_id", sa.String),
        sa.Column("unit", sa.Integer),
        sa.Column("floor", sa.Integer),
        sa.Column("room", sa.String),
        sa.Column("size", sa.Integer),
        sa.Column("care_tags", sa.String),
        sa.Column("visit_cadence", sa.String(32)),
        _point(),
    )
    op.create_index("ix_households_community_code", "households", ["community_code"])
    op.create_index("ix_households_building_id", "households", ["building_id"])
    op.create_table(
        "layers",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("department", sa.String),
        sa.Column("policy", sa.String(16)),
    )
    op.create_table(
        "layer_grids",
        sa.Column("layer", sa.String, primary_key=True),
        sa.Column("grid_id", sa.String, primary_key=True),
        sa.Column("name", sa.String),
        _area(),
    )
    op.create_table(
        "grids",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("community_code", sa.String(32), nullable=False),
        sa.Column("level", sa.Integer),
        sa.Column("kind", sa.String(32)),
        sa.Column("parent_code", sa.String(40)),
        sa.Column("households", sa.Integer),
        sa.Column("residents", sa.Integer),
        sa.Column("floor_lo", sa.Integer),
        sa.Column("floor_hi", sa.Integer),
        sa.Column("version", sa.Integer),
        sa.Column(
            "valid_from", sa.DateTime(timezone=True), server_default=sa.func.current_timestamp()
        ),
        sa.Column("valid_to", sa.DateTime(timezone=True)),
        _area(),
    )
    op.create_index("ix_grids_community_code", "grids", ["community_code"])
    op.create_index("ix_grids_level", "grids", ["level"])
    op.create_index("ix_grids_parent_code", "grids", ["parent_code"])
    op.create_table(
        "workers",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("phone", sa.String(32)),
        sa.Column("roles", sa.String),
        sa.Column("party_member", sa.Boolean),
        sa.Column("police_beat", sa.String),
        sa.Column("hours", sa.Float),
        _point(),
    )


def downgrade() -> None:
    """Drop every table (and its geometry registration and spatial index)."""
    op.drop_table("layers")
    for name in ("workers", "grids", "layer_grids", "households", "buildings", "communities"):
        op.invoke(alembic_helpers.DropGeospatialTableOp(name))
