"""lean reads (issue 20): each household's deprivation profile stored at load, and an index in
the referral list's default order

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('household_scores') as batch:
        batch.add_column(sa.Column('profile', sa.JSON(), nullable=True))
    op.create_index('ix_referrals_queue', 'referrals',
                    ['snapshot_id', sa.text('allocated DESC'), 'street_code', 'rank_street', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_referrals_queue', table_name='referrals')
    with op.batch_alter_table('household_scores') as batch:
        batch.drop_column('profile')
