"""Jobs keep what they produced: ``reel_jobs.result_json`` (file names, size, sha256
of an on-demand reel, which has no ledger row) and an index on ``reel_key``.

Revision ID: 0002_job_result
Revises: 0001_initial
Create Date: 2026-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_job_result"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reel_jobs") as batch:
        batch.add_column(sa.Column("result_json", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    op.create_index("ix_reel_jobs_reel_key", "reel_jobs", ["reel_key"])


def downgrade() -> None:
    op.drop_index("ix_reel_jobs_reel_key", table_name="reel_jobs")
    with op.batch_alter_table("reel_jobs") as batch:
        batch.drop_column("result_json")
