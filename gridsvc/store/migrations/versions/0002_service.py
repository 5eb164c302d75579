"""Add the service tables: users, audit log, plans, plan grid versions, edits, grid history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02

Same schema on SpatiaLite and PostGIS; geometries are SRID 4326 with a spatial index, created
the way 0001 creates them (GeoAlchemy2's table events).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry, alembic_helpers

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

SRID = 4326


def _area() -> sa.Column:
    return sa.Column("geom", Geometry("GEOMETRY", srid=SRID, spatial_index=True), nullable=True)


def _grid_columns() -> list[sa.Column]:
    return [
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("community_code", sa.String(32), nullable=False),
        sa.Column("level", sa.Integer),
        sa.Column("kind", sa.String(32)),
        sa.Column("parent_code", sa.String(40)),
        sa.Column("households", sa.Integer),
        sa.Column("residents", sa.Integer),
        sa.Column("floor_lo", sa.Integer),
        sa.Column("floor_hi", sa.Integer),
        sa.Column("version", sa.Integer, nullable=False),
    ]


def upgrade() -> None:
    """Create the service tables with their indexes."""
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("scope", sa.String, nullable=False, server_default=""),
        sa.Column("worker_id", sa.String),
        sa.Column("created_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(64)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String, nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
    )
    op.create_index("ix_audit_log_target", "audit_log", ["target"])
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("community_code", sa.String(32), nullable=False),
        sa.Column("name", sa.String),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("effective_from", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_plans_community_code", "plans", ["community_code"])
    op.create_table(
        "plan_grids",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.Integer, nullable=False),
        *_grid_columns(),
        sa.Column("current", sa.Boolean, nullable=False),
        sa.Column("retired", sa.Boolean, nullable=False),
        sa.Column("members", sa.Text),
        sa.Column("edit_id", sa.Integer),
        _area(),
    )
    op.create_index("ix_plan_grids_plan_id", "plan_grids", ["plan_id"])
    op.create_index("ix_plan_grids_code", "plan_grids", ["code"])
    op.create_table(
        "plan_edits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("username", sa.String(64)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text),
        sa.Column("validation", sa.Text),
    )
    op.create_index("ix_plan_edits_plan_id", "plan_edits", ["plan_id"])
    op.create_table(
        "grid_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        *_grid_columns(),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True)),
        sa.Column("plan_id", sa.Integer),
        _area(),
    )
    op.create_index("ix_grid_history_code", "grid_history", ["code"])
    op.create_index("ix_grid_history_community_code", "grid_history", ["community_code"])


def downgrade() -> None:
    """Drop the service tables."""
    for name in ("plan_edits", "plans", "audit_log", "users"):
        op.drop_table(name)
    for name in ("grid_history", "plan_grids"):
        op.invoke(alembic_helpers.DropGeospatialTableOp(name))
