"""referral assignments to caseworkers with due dates (street leads assign; issue 16), and
whether a referral is new this month (not on the previous month's list in the case store)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 02:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'assignments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('referral_id', sa.Integer(), nullable=False),
        sa.Column('household_id', sa.String(length=64), nullable=False),
        sa.Column('street_code', sa.String(length=32), nullable=False),
        sa.Column('assignee_id', sa.Integer(), nullable=False),
        sa.Column('previous_assignee_id', sa.Integer(), nullable=True),
        sa.Column('assigned_by', sa.Integer(), nullable=False),
        sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['assignee_id'], ['users.id']),
        sa.ForeignKeyConstraint(['previous_assignee_id'], ['users.id']),
        sa.ForeignKeyConstraint(['assigned_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_assignments_referral_id'), 'assignments', ['referral_id'],
                    unique=False)
    op.create_index(op.f('ix_assignments_street_code'), 'assignments', ['street_code'],
                    unique=False)
    op.create_index('ix_assignments_assignee', 'assignments', ['assignee_id', 'ended_at'],
                    unique=False)
    with op.batch_alter_table('referrals') as batch:
        batch.add_column(sa.Column('new_this_month', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('referrals') as batch:
        batch.drop_column('new_this_month')
    op.drop_index('ix_assignments_assignee', table_name='assignments')
    op.drop_index(op.f('ix_assignments_street_code'), table_name='assignments')
    op.drop_index(op.f('ix_assignments_referral_id'), table_name='assignments')
    op.drop_table('assignments')
