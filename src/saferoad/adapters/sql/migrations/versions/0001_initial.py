"""initial schema: fleet, vehicle, driver, device, trip, event, score

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 16:33:32.961673
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "fleet",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet")),
        sa.UniqueConstraint("code", name=op.f("uq_fleet_code")),
    )
    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fleet_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["fleet_id"], ["fleet.id"], name=op.f("fk_device_fleet_id_fleet"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint("fleet_id", "code", name=op.f("uq_device_fleet_id")),
    )
    op.create_table(
        "driver",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fleet_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["fleet_id"], ["fleet.id"], name=op.f("fk_driver_fleet_id_fleet"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_driver")),
        sa.UniqueConstraint("fleet_id", "code", name=op.f("uq_driver_fleet_id")),
    )
    op.create_table(
        "vehicle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fleet_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["fleet_id"], ["fleet.id"], name=op.f("fk_vehicle_fleet_id_fleet"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicle")),
        sa.UniqueConstraint("fleet_id", "code", name=op.f("uq_vehicle_fleet_id")),
    )
    op.create_table(
        "trip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trip_key", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("fleet_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("start_utc", sa.DateTime(), nullable=False),
        sa.Column("end_utc", sa.DateTime(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("local_week", sa.String(length=8), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("n_events", sa.Integer(), nullable=False),
        sa.Column("source_path", sa.String(length=1024), nullable=False),
        sa.Column("route", sa.JSON(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_trip_device_id_device"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["driver.id"], name=op.f("fk_trip_driver_id_driver"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["fleet_id"], ["fleet.id"], name=op.f("fk_trip_fleet_id_fleet"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicle.id"],
            name=op.f("fk_trip_vehicle_id_vehicle"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trip")),
        sa.UniqueConstraint("trip_key", name=op.f("uq_trip_trip_key")),
    )
    with op.batch_alter_table("trip", schema=None) as batch_op:
        batch_op.create_index("ix_trip_driver_week", ["driver_id", "local_week"], unique=False)
        batch_op.create_index("ix_trip_fleet_week", ["fleet_id", "local_week"], unique=False)

    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trip_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("start_utc", sa.DateTime(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("peak", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("clip_path", sa.String(length=1024), nullable=True),
        sa.Column("snapshot_path", sa.String(length=1024), nullable=True),
        sa.ForeignKeyConstraint(
            ["trip_id"], ["trip.id"], name=op.f("fk_event_trip_id_trip"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
        sa.UniqueConstraint("trip_id", "seq", name=op.f("uq_event_trip_id")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_trip_id"), ["trip_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_type"), ["type"], unique=False)

    op.create_table(
        "score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("fleet_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("trip_id", sa.Integer(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("raw", sa.Float(), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=False),
        sa.Column("n_events", sa.Integer(), nullable=False),
        sa.Column("rates", sa.JSON(), nullable=False),
        sa.Column("impacts", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=True),
        sa.Column("config_fingerprint", sa.String(length=32), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fleet_id"], ["fleet.id"], name=op.f("fk_score_fleet_id_fleet"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["trip_id"], ["trip.id"], name=op.f("fk_score_trip_id_trip"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score")),
        sa.UniqueConstraint("scope", "fleet_id", "subject", "week", name=op.f("uq_score_scope")),
    )
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_score_trip_id"), ["trip_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_score_trip_id"))

    op.drop_table("score")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_type"))
        batch_op.drop_index(batch_op.f("ix_event_trip_id"))

    op.drop_table("event")
    with op.batch_alter_table("trip", schema=None) as batch_op:
        batch_op.drop_index("ix_trip_fleet_week")
        batch_op.drop_index("ix_trip_driver_week")

    op.drop_table("trip")
    op.drop_table("vehicle")
    op.drop_table("driver")
    op.drop_table("device")
    op.drop_table("fleet")
