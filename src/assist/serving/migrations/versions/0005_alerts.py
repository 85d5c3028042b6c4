"""water-meter alerts (水管家): meter registrations, durable meter state, rejected messages and
alerts (one per household, rule and episode, so a restarted listener cannot repeat one)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 02:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'meter_registrations',
        sa.Column('meter_id', sa.String(length=32), nullable=False),
        sa.Column('household_id', sa.String(length=64), nullable=False),
        sa.Column('street_code', sa.String(length=32), nullable=False),
        sa.Column('community_code', sa.String(length=32), nullable=False),
        sa.Column('profile', sa.String(length=32), nullable=False),
        sa.Column('registered_at', _TZ, nullable=False),
        sa.PrimaryKeyConstraint('meter_id'),
    )
    op.create_index(op.f('ix_meter_registrations_household_id'), 'meter_registrations',
                    ['household_id'], unique=False)
    op.create_table(
        'meter_states',
        sa.Column('meter_id', sa.String(length=32), nullable=False),
        sa.Column('last_ts', _TZ, nullable=True),
        sa.Column('last_litres', sa.Float(), nullable=True),
        sa.Column('last_use_at', _TZ, nullable=True),
        sa.Column('flow_since', _TZ, nullable=True),
        sa.Column('readings', sa.Integer(), nullable=False),
        sa.Column('usual', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('meter_id'),
    )
    op.create_table(
        'meter_rejects',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('received_at', _TZ, nullable=False),
        sa.Column('topic', sa.String(length=256), nullable=False),
        sa.Column('reason', sa.String(length=64), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_meter_rejects_received_at'), 'meter_rejects', ['received_at'],
                    unique=False)
    op.create_table(
        'alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('household_id', sa.String(length=64), nullable=False),
        sa.Column('meter_id', sa.String(length=32), nullable=False),
        sa.Column('street_code', sa.String(length=32), nullable=False),
        sa.Column('community_code', sa.String(length=32), nullable=False),
        sa.Column('profile', sa.String(length=32), nullable=False),
        sa.Column('rule', sa.String(length=32), nullable=False),
        sa.Column('episode', sa.String(length=32), nullable=False),
        sa.Column('span_hours', sa.Float(), nullable=False),
        sa.Column('detected_at', _TZ, nullable=False),
        sa.Column('last_reading_at', _TZ, nullable=False),
        sa.Column('last_litres', sa.Float(), nullable=False),
        sa.Column('usual_zh', sa.Text(), nullable=False),
        sa.Column('usual_en', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', _TZ, nullable=False),
        sa.Column('escalated_at', _TZ, nullable=True),
        sa.Column('acknowledged_by', sa.Integer(), nullable=True),
        sa.Column('acknowledged_at', _TZ, nullable=True),
        sa.Column('resolved_by', sa.Integer(), nullable=True),
        sa.Column('resolved_at', _TZ, nullable=True),
        sa.Column('outcome', sa.String(length=32), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['acknowledged_by'], ['users.id']),
        sa.ForeignKeyConstraint(['resolved_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('household_id', 'rule', 'episode'),
    )
    op.create_index(op.f('ix_alerts_household_id'), 'alerts', ['household_id'], unique=False)
    op.create_index('ix_alerts_queue', 'alerts', ['street_code', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alerts_queue', table_name='alerts')
    op.drop_index(op.f('ix_alerts_household_id'), table_name='alerts')
    op.drop_table('alerts')
    op.drop_index(op.f('ix_meter_rejects_received_at'), table_name='meter_rejects')
    op.drop_table('meter_rejects')
    op.drop_table('meter_states')
    op.drop_index(op.f('ix_meter_registrations_household_id'), table_name='meter_registrations')
    op.drop_table('meter_registrations')
