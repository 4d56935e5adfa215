"""``saferoad simulate`` and ``saferoad simulate-fleet``: synthetic recordings with exact
ground truth (docs/simulator.md).

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from saferoad.entrypoints.cli.common import ConfigOption, console, load_cli_config, user_errors


def _list_scenarios(verbose: bool) -> None:
    from saferoad.domain.simulation import SCENARIOS
    from saferoad.domain.simulation.scenarios import SENSOR_PARAMS

    for spec in SCENARIOS.values():
        table = Table(title=f"[bold]{spec.name}[/] — {spec.summary}", title_justify="left", show_edge=False)
        table.add_column("parameter")
        table.add_column("default", justify="right")
        table.add_column("unit")
        table.add_column("meaning")
        for p in spec.params:
            extra = f" (one of {', '.join(p.choices)})" if p.choices else ""
            table.add_row(p.name, str(p.default), p.unit, p.description + extra)
        console.print(table)
        console.print(f"  expected events: {spec.expected}\n")
    table = Table(title="[bold]every scenario[/] — sensors and road", title_justify="left", show_edge=False)
    for col in ("parameter", "default", "unit", "meaning"):
        table.add_column(col)
    for p in SENSOR_PARAMS:
        table.add_row(p.name, str(p.default), p.unit, p.description)
    for key in ("fleet_id", "vehicle_id", "vehicle_type", "driver_id", "device_id", "timezone", "start_utc"):
        table.add_row(f"meta.{key}", "", "", "Written to meta.toml.")
    console.print(table)


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        scenario: str | None = typer.Argument(None, help="Scenario name (see --list)."),
        output: Path | None = typer.Option(None, "-o", "--output", help="Recording folder to write."),
        set_: list[str] | None = typer.Option(
            None, "--set", help="Scenario, sensor or meta parameter, e.g. --set headway_s=0.5 (repeatable)."
        ),
        seed: int = typer.Option(0, "--seed", help="Random seed (sensor noise, blinks)."),
        video: bool = typer.Option(True, "--video/--no-video", help="Render the road-camera video."),
        detections: bool = typer.Option(True, "--detections/--no-detections", help="Write detections.json (the camera's exact boxes, for the replay detector). --no-video --no-detections: a sensor-only recording (IMU, GPS, labels), faster."),
        list_: bool = typer.Option(False, "--list", help="List scenarios, their parameters and expected events."),
        sensor_profile: str = typer.Option(
            "dashcam", "--sensor-profile",
            help="The recording device: dashcam (IMU 100 Hz with gyroscope, GPS 10 Hz, mounting written) or phone "
            "(IMU 10 Hz with gravity removed by a 1 s high-pass, no gyroscope, yawed on the windscreen at a seeded "
            "random angle, mounting not written, GPS 1 Hz). --set imu.*/gps.* still override it.",
        ),
        config: Path | None = ConfigOption,
        log_level: str = typer.Option("WARNING", "--log-level", help="Log level of the JSON log on stderr."),
    ) -> None:
        """Simulate a drive with exact ground truth, written in saferoad's recording format."""
        with user_errors():
            from saferoad.observability import configure_logging

            configure_logging(log_level)
            if list_:
                _list_scenarios(True)
                return
            if scenario is None or output is None:
                raise ValueError("give a SCENARIO and -o REC (or --list)")
            from saferoad.entrypoints.wiring import simulate

            cfg = load_cli_config(config)
            res = simulate(
                scenario, output, assignments=set_ or [], seed=seed, video=video, config=cfg, detections=detections,
                sensor_profile=sensor_profile,
            )
            events = [lb for lb in res.written.labels if lb.type != "normal"]
            console.print(
                f"wrote [bold]{output}[/] ({', '.join(res.written.files)}): "
                f"{len(events)} ground-truth event(s)"
                + (f", {res.written.n_frames} video frames" if res.written.n_frames else "")
            )
            for lb in events:
                d = f" {lb.direction.value}" if lb.direction else ""
                console.print(f"  {lb.type}{d}: {lb.start_s:.2f}–{lb.end_s:.2f} s")

    @app.command("simulate-fleet")
    def simulate_fleet_cmd(
        trips: int | None = typer.Option(None, "--trips", help="Number of single-scenario trips (not with --mixed)."),
        mixed: bool = typer.Option(
            False, "--mixed", help="Driver-weeks of mixed drives (styles set manoeuvre frequency and intensity)."
        ),
        week: str = typer.Option("2026-W47", "--week", help="ISO week of the --mixed trips."),
        days: int = typer.Option(7, "--days", help="--mixed: days of the week driven (from Monday)."),
        trips_per_day: int = typer.Option(4, "--trips-per-day", help="--mixed: trips per driver per day (4 x 7 days: about 120 km a driver, over the 100 km a week needs for a score)."),
        segments: int = typer.Option(10, "--segments", help="--mixed: segments per trip (about 0.3-1 km each)."),
        output: Path = typer.Option(..., "-o", "--output", help="Folder for the trips and manifest.yaml."),
        seed: int = typer.Option(0, "--seed", help="Random seed (scenario mix, parameters, noise)."),
        video: bool = typer.Option(False, "--video/--no-video", help="Render road-camera videos (slower)."),
        detections: bool = typer.Option(True, "--detections/--no-detections", help="Write detections.json (the camera's exact boxes, for the replay detector). --no-video --no-detections: a sensor-only recording (IMU, GPS, labels), faster."),
        drivers: int = typer.Option(3, "--drivers", help="Drivers; styles cycle careful, normal, aggressive."),
        vehicles: int = typer.Option(3, "--vehicles", help="Vehicles."),
        weeks: int = typer.Option(4, "--weeks", help="Trips spread over this many weeks before 2026-11-20."),
        fleet: str = typer.Option("sim-fleet", "--fleet", help="Fleet id in meta.toml."),
        sensor_profile: str = typer.Option(
            "dashcam", "--sensor-profile",
            help="The recording device: dashcam (IMU 100 Hz with gyroscope, GPS 10 Hz, mounting written) or phone "
            "(IMU 10 Hz with gravity removed by a 1 s high-pass, no gyroscope, yawed on the windscreen at a seeded "
            "random angle, mounting not written, GPS 1 Hz). --set imu.*/gps.* still override it.",
        ),
        config: Path | None = ConfigOption,
        log_level: str = typer.Option("WARNING", "--log-level", help="Log level of the JSON log on stderr."),
    ) -> None:
        """Simulate many trips (drivers of different styles, vehicles, dates) and write
        OUT/manifest.yaml listing each recording with its labels and tags. --trips N: short
        single-scenario trips; --mixed: a week of longer mixed drives per driver."""
        with user_errors():
            from saferoad.observability import configure_logging

            configure_logging(log_level)
            from saferoad.entrypoints.wiring import simulate_fleet, simulate_fleet_week

            cfg = load_cli_config(config)
            if mixed:
                if trips is not None:
                    raise ValueError("--mixed derives the trip count (drivers x days x --trips-per-day): drop --trips")
                manifest = simulate_fleet_week(
                    output, week=week, drivers=drivers, trips_per_day=trips_per_day, days=days,
                    segments=segments, seed=seed, video=video, config=cfg, fleet_id=fleet, detections=detections,
                    sensor_profile=sensor_profile,
                )  # fmt: skip
                n = drivers * days * trips_per_day
                console.print(f"wrote {n} mixed trips of week {week} under [bold]{output}[/]; manifest: {manifest}")
                return
            if trips is None:
                raise ValueError("give --trips N (or --mixed for driver-weeks)")
            manifest = simulate_fleet(
                output, trips, seed=seed, video=video, config=cfg, drivers=drivers,
                vehicles=vehicles, weeks=weeks, fleet_id=fleet, detections=detections,
                sensor_profile=sensor_profile,
            )  # fmt: skip
            console.print(f"wrote {trips} trips under [bold]{output}[/]; manifest: {manifest}")
