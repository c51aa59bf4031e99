"""Jobs carry the trace context of the request that queued them
(``reel_jobs.trace_context_json``, W3C ``traceparent``), so the worker that renders
a job, in this process or another replica, continues the CreateReel trace.

Revision ID: i16_ops_job_trace
Revises: i13_hide_exclusions
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i16_ops_job_trace"
down_revision = "i13_hide_exclusions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reel_jobs") as batch:
        batch.add_column(sa.Column("trace_context_json", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("reel_jobs") as batch:
        batch.drop_column("trace_context_json")
