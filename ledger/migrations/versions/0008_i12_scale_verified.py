"""``media_items.verified``: the indexer checked the file's content (a photo's pixels
at reduced size, a video's container) when it wrote the row. Rows from before the
scan-time check get False, so the next scan reads them once more instead of
trusting them.

Revision ID: i12_scale_verified
Revises: i16_ops_job_trace
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i12_scale_verified"
down_revision = "i16_ops_job_trace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media_items") as batch:
        batch.add_column(sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("media_items") as batch:
        batch.drop_column("verified")
