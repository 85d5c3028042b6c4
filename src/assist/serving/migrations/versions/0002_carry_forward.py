"""decisions carried forward: last decision and listing reason on scores and referrals

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

TABLES = ("household_scores", "referrals")


def _columns() -> list[sa.Column]:
    return [sa.Column('last_outcome', sa.String(length=16), nullable=True),
            sa.Column('last_decision_date', sa.Date(), nullable=True),
            sa.Column('listing', sa.String(length=32), nullable=True),
            sa.Column('listing_zh', sa.Text(), nullable=True),
            sa.Column('listing_en', sa.Text(), nullable=True)]


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in _columns():
                batch_op.add_column(column)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in reversed(_columns()):
                batch_op.drop_column(column.name)
