from pathlib import Path

import pytest

from saferoad.config import ConfigError, load_config, parse_assignments, to_toml
from saferoad.config.docs import config_markdown


def test_defaults_round_trip_through_toml(tmp_path: Path) -> None:
    cfg = load_config()
    p = tmp_path / "c.toml"
    p.write_text(to_toml(cfg))
    assert load_config(p) == cfg


def test_unknown_key_is_named(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[motion]\nbraking_gg = 0.4\n")
    with pytest.raises(ConfigError, match=r"motion\.braking_gg: unknown key"):
        load_config(p)


def test_bad_value_is_named(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[motion]\nbraking_g = -1\n")
    with pytest.raises(ConfigError, match=r"c\.toml.*\n.*motion\.braking_g"):
        load_config(p)


def test_unknown_section_is_named(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[motionn]\n")
    with pytest.raises(ConfigError, match="motionn: unknown key"):
        load_config(p)


def test_broken_toml_names_file(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[motion\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_set_overrides() -> None:
    cfg = load_config(None, parse_assignments(["motion.braking_g=0.45"]))
    assert cfg.motion.braking_g == 0.45
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_assignments(["motion.braking_g"])


def test_set_key_that_is_both_value_and_section_is_named() -> None:
    with pytest.raises(ConfigError, match="'motion' is a value, not a section"):
        parse_assignments(["motion=1", "motion.braking_g=0.4"])


def test_docs_config_md_is_current(repo_root: Path) -> None:
    """docs/config.md is generated; regenerate with `saferoad config docs -o docs/config.md`."""
    assert (repo_root / "docs" / "config.md").read_text() == config_markdown()


def test_threshold_defaults_agree_across_config_rules_and_simulator() -> None:
    """Each event threshold has one default: the config's equals the rules' (HarshParams)
    and the simulator's label definitions, so none of the three can drift on its own."""
    from dataclasses import fields

    from saferoad.application.simulate import _CABIN_FIELDS
    from saferoad.config import SaferoadConfig
    from saferoad.domain.motion.harsh import HarshParams
    from saferoad.domain.simulation.truth import (
        CabinDefinitions,
        MotionDefinitions,
        RoadDefinitions,
    )

    cfg = SaferoadConfig()
    harsh = HarshParams()
    assert {f.name: getattr(cfg.motion, f.name) for f in fields(HarshParams)} == {
        f.name: getattr(harsh, f.name) for f in fields(HarshParams)
    }
    motion = MotionDefinitions()
    assert {f.name: getattr(motion, f.name) for f in fields(MotionDefinitions)} == {
        f.name: getattr(harsh, f.name) for f in fields(MotionDefinitions)
    }
    road = RoadDefinitions()
    assert {f.name: getattr(road, f.name) for f in fields(RoadDefinitions)} == {
        f.name: getattr(cfg.road_events, f.name) for f in fields(RoadDefinitions)
    }
    cabin = CabinDefinitions()
    assert {k: getattr(cabin, k) for k in _CABIN_FIELDS} == {
        k: getattr(cfg.cabin, v) for k, v in _CABIN_FIELDS.items()
    }
    assert set(_CABIN_FIELDS) == {f.name for f in fields(CabinDefinitions)}


@pytest.mark.parametrize(
    ("topic", "why"),
    [
        ("fleet/{fleet}/x", r"placeholder \{fleet\} is not known; the only one is \{device_id\}"),
        ("fleet/{}/x", r"placeholder \{\} is not known"),
        ("fleet/{device_id.upper}", r"placeholder \{device_id\.upper\} is not known"),
        ("fleet/{device_id", r"expected '\}' before end of string"),
        ("fleet/+/{device_id}", r"'\+' may not be in a publish topic"),
        ("/", "the topic prefix is empty"),
    ],
)
def test_bad_mqtt_topic_is_named_at_load(tmp_path: Path, topic: str, why: str) -> None:
    """``edge.mqtt_topic`` is checked when the file is read, named by the file and the key; it
    was a bare ``KeyError: 'fleet'`` from the MQTT sink once the recorder started."""
    p = tmp_path / "c.toml"
    p.write_text(f"[edge]\nmqtt_topic = {topic!r}\n")
    with pytest.raises(ConfigError, match=rf"c\.toml: invalid configuration\n  edge\.mqtt_topic: .*{why}"):
        load_config(p)


def test_good_mqtt_topics_load() -> None:
    for topic in ("saferoad/{device_id}", "fleet/{{raw}}/{device_id}/", "fleet/all"):
        assert load_config(None, parse_assignments([f"edge.mqtt_topic={topic}"])).edge.mqtt_topic == topic
