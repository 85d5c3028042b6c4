"""notice and contest: a household's contests, decided by a manager (PIPL art. 24)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'contests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('household_id', sa.String(length=64), nullable=False),
        sa.Column('street_code', sa.String(length=32), nullable=False),
        sa.Column('decision_id', sa.Integer(), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('grounds', sa.String(length=32), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('disputed_indicators', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decision_reason', sa.Text(), nullable=True),
        sa.Column('correction_needed', sa.Boolean(), nullable=False),
        sa.Column('recorded_by', sa.Integer(), nullable=False),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['recorded_by'], ['users.id']),
        sa.ForeignKeyConstraint(['decided_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_contests_household_id'), 'contests', ['household_id'], unique=False)
    op.create_index(op.f('ix_contests_street_code'), 'contests', ['street_code'], unique=False)
    op.create_index(op.f('ix_contests_status'), 'contests', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_contests_status'), table_name='contests')
    op.drop_index(op.f('ix_contests_street_code'), table_name='contests')
    op.drop_index(op.f('ix_contests_household_id'), table_name='contests')
    op.drop_table('contests')
