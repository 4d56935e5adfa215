"""web app and device ingest API: users, sessions, review status, activity, coaching notes,
device tokens, ingest ids, clip uploads

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="needs_review")
        )
        batch.add_column(sa.Column("dismiss_reason", sa.String(length=512), nullable=True))
        batch.create_index(batch.f("ix_event_status"), ["status"], unique=False)

    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("driver_fleet", sa.String(length=128), nullable=True),
        sa.Column("driver_code", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "user_fleet",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("fleet_code", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_user_fleet_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_fleet")),
        sa.UniqueConstraint("user_id", "fleet_code", name=op.f("uq_user_fleet_user_id")),
    )
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_web_session_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_web_session_token_sha256")),
    )
    op.create_index(op.f("ix_web_session_user_id"), "web_session", ["user_id"], unique=False)
    op.create_table(
        "event_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_activity_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_activity")),
    )
    op.create_index(
        op.f("ix_event_activity_event_id"), "event_activity", ["event_id"], unique=False
    )
    op.create_table(
        "coaching_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fleet_code", sa.String(length=128), nullable=False),
        sa.Column("driver_code", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_coaching_note_event_id_event"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coaching_note")),
    )
    op.create_index(
        op.f("ix_coaching_note_fleet_code"), "coaching_note", ["fleet_code"], unique=False
    )
    op.create_index(
        op.f("ix_coaching_note_driver_code"), "coaching_note", ["driver_code"], unique=False
    )
    op.create_table(
        "device_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("fleet_code", sa.String(length=128), nullable=False),
        sa.Column("device_code", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_token")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_device_token_token_sha256")),
    )
    op.create_table(
        "ingest_trip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fleet_code", sa.String(length=128), nullable=False),
        sa.Column("device_code", sa.String(length=128), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("trip_id", sa.Integer(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["trip_id"], ["trip.id"], name=op.f("fk_ingest_trip_trip_id_trip"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_trip")),
        sa.UniqueConstraint(
            "fleet_code", "device_code", "external_id", name=op.f("uq_ingest_trip_fleet_code")
        ),
    )
    op.create_index(op.f("ix_ingest_trip_trip_id"), "ingest_trip", ["trip_id"], unique=False)
    op.create_table(
        "ingest_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trip_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["trip_id"], ["trip.id"], name=op.f("fk_ingest_event_trip_id_trip"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_ingest_event_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_event")),
        sa.UniqueConstraint("trip_id", "external_id", name=op.f("uq_ingest_event_trip_id")),
    )
    op.create_index(op.f("ix_ingest_event_event_id"), "ingest_event", ["event_id"], unique=False)
    op.create_table(
        "clip_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("offset", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_clip_upload_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clip_upload")),
        sa.UniqueConstraint("event_id", name=op.f("uq_clip_upload_event_id")),
    )


def downgrade() -> None:
    for table in (
        "clip_upload",
        "ingest_event",
        "ingest_trip",
        "device_token",
        "coaching_note",
        "event_activity",
        "web_session",
        "user_fleet",
        "app_user",
    ):
        op.drop_table(table)
    with op.batch_alter_table("event") as batch:
        batch.drop_index(batch.f("ix_event_status"))
        batch.drop_column("dismiss_reason")
        batch.drop_column("status")
