"""Cheaper writes of households: drop an index no query uses, and index the households' points
with SP-GiST instead of GiST on PostGIS.

Revision ID: 0008_write_indexes
Revises: 0007_serve_job_owner
Create Date: 2026-11-22

A city run writes every household, building and grid; index upkeep was most of the PostgreSQL
server's CPU in that write (2026-11-22, 100k households COPYed on top of 1M: about 13 µs of
server CPU a row with the indexes, 1.4 µs without any).

- ``ix_households_building_id`` is dropped: no statement filters households by building in
  SQL (a building's households are picked from its community's frame).
- ``idx_households_geom`` becomes SP-GiST on PostGIS (``spgist_geometry_ops_2d``, same name):
  the bbox filters (``ST_Intersects`` through ``&&``, and ``@``) use it as they used the GiST,
  and an insert descends one quadrant a level instead of weighing every entry of a GiST page.
  SpatiaLite's R*Tree is unchanged.

Kept on purpose: ``ix_grids_level`` (two values, but OGC's ``numberMatched`` counts base or
micro-grids by an index-only scan of it: 1.5 ms instead of a 53 ms scan at 1M).
"""

from __future__ import annotations

from alembic import op

revision: str = "0008_write_indexes"
down_revision: str | None = "0007_serve_job_owner"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Drop the building index; rebuild the households' spatial index as SP-GiST."""
    op.drop_index("ix_households_building_id", table_name="households")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX idx_households_geom")
        op.execute("CREATE INDEX idx_households_geom ON households USING spgist (geom)")


def downgrade() -> None:
    """Put the indexes back as 0001 made them."""
    op.create_index("ix_households_building_id", "households", ["building_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX idx_households_geom")
        op.execute("CREATE INDEX idx_households_geom ON households USING gist (geom)")
