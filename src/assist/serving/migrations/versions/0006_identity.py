"""identity vault: no case-store table (issue 16)

The identity vault (names, addresses, phones, members; blind index of ID numbers and names)
is not kept in the case store: ingest writes it, encrypted with Fernet, to
``<workspace>/identity/`` beside the validated store, and the serving identity service
(:mod:`assist.serving.services.identity`) reads it directly. Reveals are audit entries of the
existing ``audit_log`` table (action ``identity.reveal``). This revision keeps the chain's
place and changes no schema.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 02:45:00.000000
"""

from __future__ import annotations

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """No schema change (see the module docstring)."""


def downgrade() -> None:
    """No schema change."""
