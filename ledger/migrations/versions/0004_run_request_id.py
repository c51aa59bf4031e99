"""Manual maintenance passes are idempotent on their caller's ``request_id``
(AIP-155): ``maintenance_runs.request_id``, unique when set.

Revision ID: 0004_run_request_id
Revises: 0003_job_attempts
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_run_request_id"
down_revision = "0003_job_attempts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("maintenance_runs") as batch:
        batch.add_column(sa.Column("request_id", sa.String(128), nullable=True))
        batch.create_unique_constraint("uq_maintenance_runs_request_id", ["request_id"])


def downgrade() -> None:
    with op.batch_alter_table("maintenance_runs") as batch:
        batch.drop_constraint("uq_maintenance_runs_request_id", type_="unique")
        batch.drop_column("request_id")
