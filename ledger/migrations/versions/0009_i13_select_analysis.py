"""Per-media analysis (``media_analysis``): sharpness, exposure, perceptual hash,
screenshot likelihood, faces, rating, and for videos motion and loudness; one row
per media item, deleted with it.

Revision ID: i13_select_analysis
Revises: i12_scale_verified
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i13_select_analysis"
down_revision = "i12_scale_verified"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_analysis",
        sa.Column("media_id", sa.String(128), primary_key=True),
        sa.Column("library_key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sharpness", sa.Float(), nullable=False),
        sa.Column("dark_share", sa.Float(), nullable=False),
        sa.Column("bright_share", sa.Float(), nullable=False),
        sa.Column("mean_luma", sa.Float(), nullable=False),
        sa.Column("phash", sa.String(32), nullable=False),
        sa.Column("screenshot", sa.Float(), nullable=False),
        sa.Column("face_count", sa.Integer(), nullable=False),
        sa.Column("faces_json", sa.JSON(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("motion", sa.Float(), nullable=False),
        sa.Column("loudness_db", sa.Float(), nullable=True),
        sa.Column("error", sa.String(32), nullable=False),
        sa.Column("analysed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media_items.id"], ondelete="CASCADE", name="fk_media_analysis_media_id"
        ),
    )
    op.create_index("ix_media_analysis_library_key_error", "media_analysis", ["library_key", "error"])


def downgrade() -> None:
    op.drop_index("ix_media_analysis_library_key_error", table_name="media_analysis")
    op.drop_table("media_analysis")
