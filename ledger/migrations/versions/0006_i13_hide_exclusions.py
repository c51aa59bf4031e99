""" "Never show me this": exclusions (a media item, folder or date range hidden from a
library's memories, soft-deleted on unhide), a change counter per library, and the
media of each reel (what the hidden-media check of GetPrecomputedReel and
StreamReelVideo reads).

Revision ID: i13_hide_exclusions
Revises: 0005_media_date_source
Create Date: 2026-12-07
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "i13_hide_exclusions"
down_revision = "0005_media_date_source"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[dt.datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "exclusions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("library_key", sa.String(64), nullable=False),
        sa.Column("target", sa.String(8), nullable=False),
        sa.Column("media_id", sa.String(128), nullable=True),
        sa.Column("rel_path", sa.String(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        _ts("start_utc", nullable=True),
        _ts("end_utc", nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        _ts("created_at"),
        _ts("deleted_at", nullable=True),
        sa.Column("delete_request_id", sa.String(128), nullable=True),
        sa.UniqueConstraint("request_id", name="uq_exclusions_request_id"),
        sa.UniqueConstraint("delete_request_id", name="uq_exclusions_delete_request_id"),
        sa.CheckConstraint("target IN ('MEDIA', 'FOLDER', 'DATES')", name="ck_exclusions_target"),
    )
    op.create_index("ix_exclusions_library_key_id", "exclusions", ["library_key", "id"])
    op.create_table(
        "exclusion_versions",
        sa.Column("library_key", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        "reel_media",
        sa.Column("reel_key", sa.String(128), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("media_id", sa.String(128), nullable=False),
        sa.Column("rel_path", sa.String(), nullable=False),
        _ts("taken_at_utc"),
    )


def downgrade() -> None:
    op.drop_table("reel_media")
    op.drop_table("exclusion_versions")
    op.drop_index("ix_exclusions_library_key_id", table_name="exclusions")
    op.drop_table("exclusions")
