"""Jobs count their claims (``reel_jobs.attempts``), so a job whose replica died is
requeued a bounded number of times.

Revision ID: 0003_job_attempts
Revises: 0002_job_result
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_job_attempts"
down_revision = "0002_job_result"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reel_jobs") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("reel_jobs") as batch:
        batch.drop_column("attempts")
