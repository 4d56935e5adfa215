"""``saferoad model quantize CARD -o OUT_DIR``: an INT8 copy of a model and its card.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from saferoad.entrypoints.cli.common import console, user_errors


def _default_calibration() -> list[Path]:
    """Every road video in ``$SAFEROAD_SHARED/data/video`` (real dashcam footage)."""
    from saferoad.adapters.onnx.card import default_models_root

    folder = default_models_root().parent / "data" / "video"
    videos = sorted(folder.glob("*.mp4")) if folder.is_dir() else []
    if not videos:
        raise ValueError(f"{folder}: no calibration video found; give --calibration VIDEO_OR_FRAMES")
    return videos


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Prepare models: INT8 quantization.", no_args_is_help=True)

    @group.command("quantize")
    def quantize(
        card: str = typer.Argument(
            ..., help="Model card: a shipped name (yolox-nano), a card .toml, a folder, or an Ultralytics .onnx."
        ),
        output: Path = typer.Option(..., "-o", "--output", help="Folder for model.onnx and card.toml."),
        calibration: list[str] | None = typer.Option(
            None,
            "--calibration",
            help="Video, image folder or image to calibrate on (repeatable); default: the shared road videos.",
        ),
        frames: int = typer.Option(64, "--frames", min=1, help="Calibration frames, spread over the sources."),
        method: str = typer.Option("minmax", "--method", help="Range calibration: minmax, entropy or percentile."),
        per_channel: bool = typer.Option(True, "--per-channel/--per-tensor", help="Weight scales per output channel."),
    ) -> None:
        """Write OUT/model.onnx, a static INT8 (QDQ) copy of the card's model calibrated on real
        footage, and OUT/card.toml; then run it with --model OUT (docs/perception.md, INT8)."""
        with user_errors():
            from saferoad.adapters.onnx.card import load_card
            from saferoad.adapters.onnx.quantize import quantize_card

            if method not in ("minmax", "entropy", "percentile"):
                raise ValueError(f"--method: {method!r} is not one of minmax, entropy, percentile")
            sources: list[str | Path] = list(calibration) if calibration else list(_default_calibration())
            res = quantize_card(
                load_card(card), output, sources, n_frames=frames, method=method, per_channel=per_channel  # type: ignore[arg-type]
            )
        ops = res.quantized_nodes
        console.print(
            f"INT8 model {res.model_path} ({ops.get('QuantizeLinear', 0)} QuantizeLinear, "
            f"{ops.get('DequantizeLinear', 0)} DequantizeLinear) calibrated on {res.calibration_frames} "
            f"frame(s) in {res.seconds:.1f} s; card {res.card_path}"
        )

    app.add_typer(group, name="model")
