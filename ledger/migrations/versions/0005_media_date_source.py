"""Where each media item's date came from (``media_items.date_source``: EXIF, XMP,
TAKEOUT, QUICKTIME, FILENAME, MTIME; empty for rows indexed before this), and the
motion clip of a Live Photo (``media_items.motion_rel_path``).

Revision ID: 0005_media_date_source
Revises: 0004_run_request_id
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_media_date_source"
down_revision = "0004_run_request_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media_items") as batch:
        batch.add_column(sa.Column("date_source", sa.String(16), nullable=False, server_default=sa.text("''")))
        batch.add_column(sa.Column("motion_rel_path", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media_items") as batch:
        batch.drop_column("motion_rel_path")
        batch.drop_column("date_source")
