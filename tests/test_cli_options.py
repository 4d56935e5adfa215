"""Command options reach the config as typed values (``load_cli_config(..., options)``), not
as hand-built ``--set`` strings: a path with quotes or backslashes arrives as it is."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.cli.common import UserError, load_cli_config

ODD = "we\"ird\\dir 'x' = 1"


def test_options_are_passed_as_typed_values() -> None:
    cfg = load_cli_config(
        None,
        None,
        {
            "perception.replay_path": f"/data/{ODD}/d.json",
            "perception.tiles": 3,
            "perception.model": "1.5",
        },
    )
    assert cfg.perception.replay_path == f"/data/{ODD}/d.json"
    assert cfg.perception.tiles == 3
    assert cfg.perception.model == "1.5"  # a string option stays a string (no TOML guessing)


def test_options_win_over_set_and_none_means_not_given(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[perception]\ndetector = "grpc"\nstride = 4\n')
    cfg = load_cli_config(
        conf,
        ["perception.stride=2", "perception.tiles=2"],
        {"perception.stride": 3, "perception.tiles": None},
    )
    assert (cfg.perception.detector.type, cfg.perception.stride, cfg.perception.tiles) == ("grpc", 3, 2)
    cfg = load_cli_config(conf, None, {"perception.detector": "replay"})
    assert (cfg.perception.detector.type, cfg.perception.stride) == ("replay", 4)


def test_an_option_replaces_a_scalar_set_on_its_section() -> None:
    with pytest.raises(UserError, match=r"perception\.stride"):
        load_cli_config(None, None, {"perception.stride": 0})
    # "--set perception=1" is nonsense: named, not silently replaced by the option
    with pytest.raises(UserError, match="'perception' is a value, not a section"):
        load_cli_config(None, ["perception=1"], {"perception.stride": 2})


def test_bad_option_value_is_a_user_error() -> None:
    with pytest.raises(UserError, match=r"perception\.detector"):
        load_cli_config(None, None, {"perception.detector": "bogus"})


def test_detect_replay_path_with_quotes_and_backslashes(tmp_path: Path) -> None:
    """Before options were passed as values, detect wrapped --replay in TOML quotes by hand;
    this path broke that and the labels file was 'not found'."""
    img = tmp_path / "f.png"
    assert cv2.imwrite(str(img), np.full((48, 64, 3), 90, np.uint8))
    folder = tmp_path / ODD
    folder.mkdir()
    labels = folder / "detections.json"
    labels.write_text(
        json.dumps(
            {
                "width": 64,
                "height": 48,
                "frames": [
                    {
                        "frame": 0,
                        "objects": [{"cls": "vehicle", "score": 0.9, "xyxy": [5, 6, 25, 30]}],
                    }
                ],
            }
        )
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["detect", str(img), "-o", str(out), "--detector", "replay", "--replay", str(labels)]
    )
    assert res.exit_code == 0, res.output
    df = pq.read_table(out / "tracks.parquet").to_pandas()
    assert df[["frame", "cls", "x1", "y1", "x2", "y2"]].values.tolist() == [
        [0, "vehicle", 5.0, 6.0, 25.0, 30.0]
    ]


def test_user_text_with_colons_is_printed_as_written(tmp_path: Path) -> None:
    """Rich turns ``:smile:`` into an emoji by default; a path or spec holding such a pair must
    reach the user as typed (the error names the path they gave)."""
    missing = tmp_path / "no:smile:thing"
    res = CliRunner().invoke(app, ["analyze", str(missing), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert "no:smile:thing" in res.output and "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in res.output, res.output
