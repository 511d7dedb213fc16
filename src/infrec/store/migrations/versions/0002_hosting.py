"""hosting: endpoint configs and endpoints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'endpoint_configs',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('arn', sa.String(length=2048), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('doc', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('arn'),
        sa.UniqueConstraint('name'),
    )
    with op.batch_alter_table('endpoint_configs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_endpoint_configs_created_at'), ['created_at'], unique=False)
    op.create_table(
        'endpoints',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('arn', sa.String(length=2048), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('config_name', sa.String(length=63), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('modified_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('doc', sa.JSON(), nullable=False),
        sa.Column('owner', sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('arn'),
        sa.UniqueConstraint('name'),
    )
    with op.batch_alter_table('endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_endpoints_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_endpoints_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_endpoints_modified_at'), ['modified_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_endpoints_modified_at'))
        batch_op.drop_index(batch_op.f('ix_endpoints_created_at'))
        batch_op.drop_index(batch_op.f('ix_endpoints_status'))
    op.drop_table('endpoints')
    with op.batch_alter_table('endpoint_configs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_endpoint_configs_created_at'))
    op.drop_table('endpoint_configs')
