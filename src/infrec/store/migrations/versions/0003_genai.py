"""genai: AI workload configs, AI benchmark jobs and AI recommendation jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ai_resources',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('arn', sa.String(length=2048), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('doc', sa.JSON(), nullable=False),
        sa.Column('owner', sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('arn'),
        sa.UniqueConstraint('kind', 'name', name='uq_ai_resource_kind_name'),
    )
    with op.batch_alter_table('ai_resources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ai_resources_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_ai_resources_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_ai_resources_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ai_resources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ai_resources_created_at'))
        batch_op.drop_index(batch_op.f('ix_ai_resources_status'))
        batch_op.drop_index(batch_op.f('ix_ai_resources_kind'))
    op.drop_table('ai_resources')
