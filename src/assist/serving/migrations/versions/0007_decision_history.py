"""decision revisions (history of every change) and the programmes a household receives

Every change of a decision becomes a row of ``decision_revisions`` (who, when, each changed
field before and after). Decisions recorded before this migration get one ``baseline`` row
with their state as found (author and time of their last change), so their history starts
there. ``referrals.receiving`` holds the programmes the household already receives (active
grants in the assistance table) from the scoring snapshot; NULL for snapshots loaded earlier.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 02:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

#: the decision fields a revision records
FIELDS = ('outcome', 'visit_date', 'programmes_granted', 'override_reason', 'note', 'rating',
          'rating_reason')


def upgrade() -> None:
    op.create_table(
        'decision_revisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('decision_id', sa.Integer(), nullable=False),
        sa.Column('household_id', sa.String(length=64), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('changed_by', sa.Integer(), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['changed_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('decision_id', 'revision'),
    )
    op.create_index(op.f('ix_decision_revisions_household_id'), 'decision_revisions',
                    ['household_id'], unique=False)
    op.add_column('referrals', sa.Column('receiving', sa.JSON(), nullable=True))
    _baseline()


def _baseline() -> None:
    """One ``baseline`` revision per existing decision: its state as found."""
    decisions = sa.table('decisions', sa.column('id'), sa.column('household_id'),
                         sa.column('version'), sa.column('recorded_by'),
                         sa.column('updated_at'),
                         *[sa.column(f) for f in FIELDS if f != 'programmes_granted'],
                         sa.column('programmes_granted', sa.JSON()))
    revisions = sa.table('decision_revisions', sa.column('decision_id'),
                         sa.column('household_id'), sa.column('revision'), sa.column('action'),
                         sa.column('changed_by'), sa.column('changed_at'),
                         sa.column('changes', sa.JSON()))
    bind = op.get_bind()
    rows = []
    for d in bind.execute(sa.select(decisions)).mappings():
        state = {f: d[f] for f in FIELDS}
        if state['visit_date'] is not None:
            state['visit_date'] = str(state['visit_date'])[:10]
        rows.append({'decision_id': d['id'], 'household_id': d['household_id'],
                     'revision': d['version'], 'action': 'baseline',
                     'changed_by': d['recorded_by'], 'changed_at': d['updated_at'],
                     'changes': {f: [None, v] for f, v in state.items()
                                 if v not in (None, '', [])}})
    if rows:
        op.bulk_insert(revisions, rows)


def downgrade() -> None:
    op.drop_column('referrals', 'receiving')
    op.drop_index(op.f('ix_decision_revisions_household_id'), table_name='decision_revisions')
    op.drop_table('decision_revisions')
