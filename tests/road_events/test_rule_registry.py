"""Road rules registered by their modules (issue 16 item 5): the engine is built from the
registry, the ``[road_events]`` keys are derived from the rules' params dataclasses, and
what users write, what a client may set and every fingerprint stay as they were."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import pickle
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient

from saferoad.adapters.recording import open_recording
from saferoad.adapters.recording.labels import read_labels_jsonl
from saferoad.adapters.sql import open_store
from saferoad.application import report
from saferoad.application.ingest import check_event
from saferoad.application.stages.road import params_from_config
from saferoad.application.web import add_user
from saferoad.config import ConfigError, load_config
from saferoad.config.docs import config_markdown
from saferoad.config.road_events import RoadEventsConfig, road_client_keys, road_events_model
from saferoad.domain.event_specs import SPECS, Family, default_weights, event_title
from saferoad.domain.event_specs import spec as event_spec
from saferoad.domain.params import param, param_fields
from saferoad.domain.road_events import (
    CommonParams,
    RoadEventParams,
    RoadRule,
    RoadSample,
    register,
    road_rules,
    unregister,
)
from saferoad.domain.road_events.base import Rule
from saferoad.domain.types import Event, EventType, Severity
from saferoad.entrypoints.services.analysis_service import CLIENT_OPTIONS, check_client_options
from saferoad.entrypoints.web import create_app
from saferoad.entrypoints.wiring import analyze_recording, ingest_outputs, report_ports, simulate

# Measured on the code before the registry (commit 7bc1827, a hand-written RoadEventsConfig):
# config_hash of the road_events section, with every default and with keys set. Every
# fingerprint (SaferoadConfig.fingerprint, the evaluation cache key) hashes this section's
# dump, so these unchanged keep them unchanged as far as road_events goes.
SECTION_BEFORE = [
    (None, "9b44d3e79f913a4f"),
    ({"fcw_ttc_s": 1.5, "speed_limit_kmh": 50}, "0d395779adf21967"),
    ({"stop_sign_min_frames": 4, "leave_view_s": 0.7, "clips": False, "mode": "batch"}, "61986a9bb2f0ef9f"),
]
SET = {"road_events": {"fcw_ttc_s": 1.5, "speed_limit_kmh": 50}}

# The road_events keys a client of `saferoad serve` could set before the list was derived.
CLIENT_BEFORE = {
    "corridor_half_width_m", "range_rate_window_s", "lead_dropout_s",
    "tailgating_headway_s", "tailgating_min_duration_s", "tailgating_min_speed_mps",
    "fcw_ttc_s", "fcw_min_duration_s", "fcw_min_speed_mps", "fcw_min_closing_mps",
    "stop_speed_mps", "stop_window_s", "stop_sign_min_frames", "stop_sign_max_distance_m",
    "stop_sign_size_m", "slow_down_fraction", "leave_view_s", "red_light_min_speed_mps",
    "red_light_max_distance_m", "red_light_min_frames", "lamp_min_fraction", "speed_limit_kmh",
    "speeding_margin_mps", "speeding_min_duration_s", "clips",
}


@pytest.mark.parametrize(("keys", "digest"), SECTION_BEFORE)
def test_the_section_dumps_and_hashes_as_before(section_pins, keys: dict[str, object] | None, digest: str) -> None:
    section_pins.dumps_as_before("road_events", keys, digest)


def test_the_derived_section_checks_keys_and_bounds_by_name(tmp_path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text("[road_events]\nfcw_ttc_s = 1.5\nstop_sign_min_frames = 4\n", encoding="utf-8")
    cfg = load_config(conf)
    assert isinstance(cfg.road_events, RoadEventsConfig) and type(cfg.road_events) is road_events_model()
    params = RoadEventParams(**{k: getattr(cfg.road_events, k) for k in RoadEventParams.names()})
    assert params.fcw_ttc_s == 1.5 and params.stop_sign_min_frames == 4
    for body, why in [
        ("fcw_ttc_s = -1\n", r"road_events\.fcw_ttc_s: Input should be greater than 0"),
        ("slow_down_fraction = 1.0\n", r"road_events\.slow_down_fraction: Input should be less than 1"),
        ("fcw_ttc = 2.0\n", r"road_events\.fcw_ttc: unknown key"),
        ("stop_sign_min_frames = 0\n", r"road_events\.stop_sign_min_frames: Input should be greater than or equal to 1"),
    ]:
        conf.write_text("[road_events]\n" + body, encoding="utf-8")
        with pytest.raises(ConfigError, match=why) as err:
            load_config(conf)
        assert str(conf) in str(err.value)


def test_every_rule_parameter_is_a_documented_key_with_the_domain_default() -> None:
    model = road_events_model()
    for cls in [CommonParams, *(r.params for r in road_rules())]:
        for name, _typ, default, info in param_fields(cls):
            if not info.config:  # a constant of the rule: no key (config=False)
                assert name not in model.model_fields
                continue
            f = model.model_fields[name]
            assert f.default == default and f.description == info.description and info.description
    assert RoadEventParams() == RoadEventParams(**{k: getattr(load_config().road_events, k) for k in RoadEventParams.names()})


def test_the_client_allow_list_is_derived_and_unchanged() -> None:
    assert road_client_keys() == CLIENT_BEFORE
    assert {k.split(".", 1)[1] for k in CLIENT_OPTIONS if k.startswith("road_events.")} == CLIENT_BEFORE


def test_every_road_rule_declares_the_specs_of_its_types() -> None:
    rules = road_rules()
    assert [r.name for r in rules] == ["tailgating", "forward_collision", "stop_sign", "red_light", "speeding"]
    declared = [s for r in rules for s in r.specs]
    assert all(s.family is Family.ROAD and SPECS[s.type.value] is s for s in declared)
    # the registry's order is the engine's (tailgating, FCW, stop sign, red light) and SPECS's
    assert list(SPECS)[4:10] == [s.type.value for s in declared]


def test_config_and_params_pickle_through_the_derived_class(section_pins) -> None:
    section_pins.pickles(load_config(None, SET))
    params = RoadEventParams(fcw_ttc_s=1.5)
    assert pickle.loads(pickle.dumps(params)) == params
    with pytest.raises(TypeError, match="fcw_ttc"):
        RoadEventParams(fcw_ttc=1.5)


def test_the_type_checker_names_of_the_shared_thresholds_match_common_params() -> None:
    """``RoadEventsConfig`` names CommonParams' fields for mypy only (``if TYPE_CHECKING``):
    the names and types there must be CommonParams'."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(RoadEventsConfig)))
    block = next(n for n in ast.walk(tree) if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    named = {ast.unparse(a.target): ast.unparse(a.annotation) for a in block.body if isinstance(a, ast.AnnAssign)}
    assert named == {name: typ.__name__ for name, typ, _d, info in param_fields(CommonParams) if info.config}


# --- a rule added as one module -------------------------------------------------------


@pytest.fixture
def stopped_in_lane(rule_module) -> Iterator[ModuleType]:
    """The test-local rule module, loaded from its file (it defines its type and registers
    its rule) and dropped, rule and type, when the test ends."""
    with rule_module(Path(__file__).with_name("stopped_in_lane_rule.py"), "stopped_in_lane", unregister) as mod:
        yield mod


def test_a_rule_module_gets_a_spec_config_keys_docs_and_client_options(stopped_in_lane: ModuleType, tmp_path: Path) -> None:
    assert road_rules()[-1] is stopped_in_lane.RULE
    assert event_spec("stopped_in_lane") is stopped_in_lane.SPEC and event_title("stopped_in_lane") == "Stopped in lane"
    assert list(SPECS)[10] == "stopped_in_lane"  # after the built-in road rules' types
    assert default_weights()["stopped_in_lane"] == 3.0
    # [road_events] keys from its params: defaults, bounds, the file named in errors
    assert load_config().road_events.stopped_in_lane_min_s == 30.0  # type: ignore[attr-defined]
    conf = tmp_path / "c.toml"
    conf.write_text("[road_events]\nstopped_in_lane_min_s = 4.0\n", encoding="utf-8")
    assert RoadEventParams(**{k: getattr(load_config(conf).road_events, k) for k in RoadEventParams.names()}).stopped_in_lane_min_s == 4.0
    conf.write_text("[road_events]\nstopped_in_lane_speed_mps = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.toml(.|\n)*road_events\.stopped_in_lane_speed_mps: Input should be greater than 0"):
        load_config(conf)
    # a row of docs/config.md (saferoad config docs) with its default and description
    assert "| `stopped_in_lane_min_s` | `30.0` | How long the ego must stand still with no vehicle ahead" in config_markdown()
    # a client of saferoad serve may set it
    assert "stopped_in_lane_min_s" in road_client_keys()
    check_client_options({"road_events": {"stopped_in_lane_min_s": 5.0}})
    # dropped, its keys are unknown again
    unregister("stopped_in_lane")
    conf.write_text("[road_events]\nstopped_in_lane_min_s = 4.0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"road_events\.stopped_in_lane_min_s: unknown key"):
        load_config(conf)
    assert "stopped_in_lane" not in SPECS and "stopped_in_lane_min_s" not in road_client_keys()


def test_a_rule_module_runs_through_analyze_from_its_toml_key(stopped_in_lane: ModuleType, tmp_path: Path) -> None:
    """A full stop at a stop sign held 6 s after a harsh braking, no vehicle ahead: with the
    rule's minimum set to 4 s in the TOML file analyze reports one stopped_in_lane over the
    standstill (in events.jsonl too); at its 30 s default none; the built-in rules' events
    (the harsh braking) are the same either way."""
    rec_dir = tmp_path / "rec"
    base = load_config(None, {"perception": {"detector": "replay"}})
    simulate("stop_sign", rec_dir, seed=5, video=False, config=base,
             assignments=["min_speed_kmh=0", "dwell_s=6", "duration_s=30", "decel_mps2=4.5"])
    rec = open_recording(rec_dir)
    conf = tmp_path / "c.toml"
    conf.write_text('[perception]\ndetector = "replay"\n\n[road_events]\nstopped_in_lane_min_s = 4.0\n', encoding="utf-8")
    got = analyze_recording(rec, load_config(conf), tmp_path / "out").events
    (ev,) = [e for e in got if e.type.value == "stopped_in_lane"]
    # the standstill: where the drive's own speed is below the rule's threshold
    assert rec.gps is not None
    still = rec.gps.t_s[rec.gps.speed_mps < 0.5]
    assert ev.end_s - ev.start_s >= 4.0 - 1e-9
    assert ev.start_s == pytest.approx(float(still.min()), abs=0.25) and ev.end_s == pytest.approx(float(still.max()), abs=0.25)
    written = [json.loads(line) for line in (tmp_path / "out" / "events.jsonl").read_text().splitlines()]
    assert [w["type"] for w in written].count("stopped_in_lane") == 1
    # the batch road stage folds the same registered rules: the same event
    conf.write_text(conf.read_text(encoding="utf-8") + 'mode = "batch"\n', encoding="utf-8")
    batch = analyze_recording(rec, load_config(conf), tmp_path / "out_batch").events
    assert [e.to_dict() for e in batch if e.type.value == "stopped_in_lane"] == [ev.to_dict()]
    default = analyze_recording(rec, base, tmp_path / "out2").events
    assert [e for e in default if e.type.value == "stopped_in_lane"] == []
    builtin = [e.to_dict() for e in got if e.type.value != "stopped_in_lane"]
    assert [b["type"] for b in builtin] == ["harsh_braking"]
    assert builtin == [e.to_dict() for e in default]


def test_a_rule_modules_type_goes_from_analyze_to_the_store_the_score_and_the_report(
    stopped_in_lane: ModuleType, tmp_path: Path
) -> None:
    """The type defined by the module (no line in domain/types.py) goes end to end with no
    other file edited: analyze -> events.jsonl -> ingest into SQLite -> the trip's score, where
    its spec's weight (3) counts beside harsh braking's (4) -> the trip report's and the web
    app's title and colour, and the review queue's type filter; and it pickles (spawn workers, Ray) as the built-ins do."""
    toy = stopped_in_lane.STOPPED_IN_LANE
    assert toy is EventType.STOPPED_IN_LANE and EventType("stopped_in_lane") is toy and toy in list(EventType)  # type: ignore[attr-defined]
    rec_dir = tmp_path / "rec"
    simulate("stop_sign", rec_dir, seed=5, video=False, config=load_config(None, {"perception": {"detector": "replay"}}),
             assignments=["min_speed_kmh=0", "dwell_s=6", "duration_s=30", "decel_mps2=4.5"])
    conf = tmp_path / "c.toml"
    conf.write_text('[perception]\ndetector = "replay"\n\n[road_events]\nstopped_in_lane_min_s = 4.0\n', encoding="utf-8")
    cfg = load_config(conf, {"web": {"media_dir": str(tmp_path / "media")}})
    assert cfg.scoring.weights["stopped_in_lane"] == 3.0  # the default weights read the specs when loaded
    out = tmp_path / "out"
    events = analyze_recording(open_recording(rec_dir), cfg, out).events
    assert sorted(e.type.value for e in events) == ["harsh_braking", "stopped_in_lane"]
    ev = next(e for e in events if e.type is toy)
    again = pickle.loads(pickle.dumps(ev))
    assert again == ev and again.type is toy
    assert Event.from_dict(json.loads(json.dumps(ev.to_dict()))) == ev
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        trip_id = ingest_outputs(store.unit_of_work, [out], cfg).trip_ids[str(out)]
        with store.unit_of_work() as uow:
            trip = uow.trips.get(trip_id)
            assert trip is not None
            stored = uow.scores.get("trip", trip.ids.fleet, trip.trip_key, trip.local_week)
        assert sorted(e.type for e in trip.events) == ["harsh_braking", "stopped_in_lane"]
        assert trip.counts == {"harsh_braking": 1, "stopped_in_lane": 1}
        assert stored is not None
        impacts = stored.score.impacts
        # one event of each over the same distance: the points lost split as the weights, 3 : 4
        assert impacts["stopped_in_lane"] > 0
        assert impacts["stopped_in_lane"] / impacts["harsh_braking"] == pytest.approx(3.0 / 4.0, rel=1e-3)
        ctx = report.trip_context(store, cfg, trip_id, ports=report_ports())
        (card,) = [e for e in ctx["trip"]["events"] if e["type"] == "stopped_in_lane"]
        assert card["title"] == "Stopped in lane" and card["colour"] == "#123456"
        (row,) = [r for r in ctx["rate_rows"] if r["title"] == "Stopped in lane"]
        assert row["colour"] == "#123456" and row["count"] == 1
        # the web app's trip page (the same context) and the review queue's type filter
        add_user(store, "admin", "admin-pass-1", "admin")
        client = TestClient(create_app(store, cfg))
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        assert client.post("/login", data={"username": "admin", "password": "admin-pass-1", "csrf_token": token.group(1),
                                           "next": "/"}, follow_redirects=False).status_code == 303
        page = client.get(f"/trips/{trip_id}")
        assert page.status_code == 200 and "Stopped in lane" in page.text and "#123456" in page.text
        queue = client.get(f"/fleets/{trip.ids.fleet}/review?status=&type=stopped_in_lane")
        assert queue.status_code == 200 and '<option value="stopped_in_lane" selected>' in queue.text
        assert re.search(r'<tr data-event="\d+">.*?Stopped in lane.*?</tr>', queue.text, re.S)
    finally:
        store.close()


def test_readers_and_config_know_a_defined_type_at_call_time(stopped_in_lane: ModuleType, tmp_path: Path) -> None:
    """Every check of a type name asks the registry when it runs, not a list taken when its
    module was imported (before the rule module defined its type): an events.jsonl record,
    a labels file, [evaluation] event_types and gate metrics, [edge] per-type keys; once the
    type is dropped they refuse it again."""
    record = Event(EventType("stopped_in_lane"), 1.0, 5.0, Severity.LOW, 1.0).to_dict()
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"type": "stopped_in_lane", "start_s": 1.0, "end_s": 5.0}) + "\n", encoding="utf-8")
    keys = {"evaluation": {"event_types": ["stopped_in_lane"], "gate_metrics": ["events.stopped_in_lane.f1"]},
            "edge": {"upload_caps": {"stopped_in_lane": {"per_hour": 1, "per_day": 2}}}}
    check_event(record, "events.jsonl:1", 30.0)
    assert [lab.type for lab in read_labels_jsonl(labels)] == ["stopped_in_lane"]
    cfg = load_config(None, keys)
    assert cfg.evaluation.event_types == ["stopped_in_lane"]
    unregister("stopped_in_lane")
    EventType.undefine("stopped_in_lane")
    assert "stopped_in_lane" not in EventType and not hasattr(EventType, "STOPPED_IN_LANE")
    with pytest.raises(ValueError, match="field 'type' is not an event type: 'stopped_in_lane'"):
        check_event(record, "events.jsonl:1", 30.0)
    with pytest.raises(ValueError, match="unknown event type 'stopped_in_lane'"):
        read_labels_jsonl(labels)
    for section, why in [("evaluation", "unknown event types: stopped_in_lane"),
                         ("edge", "'stopped_in_lane' is not an event type")]:
        with pytest.raises(ConfigError, match=why):
            load_config(None, {section: keys[section]})
    with pytest.raises(ConfigError, match=r"not metrics the gate can check: events\.stopped_in_lane\.f1"):
        load_config(None, {"evaluation": {"gate_metrics": ["events.stopped_in_lane.f1"]}})
    with pytest.raises(ValueError, match="'stopped_in_lane' is not a valid EventType"):
        EventType("stopped_in_lane")


def test_a_rule_must_declare_its_params_and_specs_and_not_take_a_key() -> None:
    @dataclass(frozen=True, slots=True)
    class Bare:
        toy_threshold: float = 1.0  # no param(): no description for the docs

    @dataclass(frozen=True, slots=True)
    class Clash:
        fcw_ttc_s: float = param(1.0, "taken by the forward-collision rule", gt=0)

    @dataclass(frozen=True, slots=True)
    class CommonClash:
        max_gap_s: float = param(1.0, "taken by the engine's CommonParams", gt=0)

    spec = SPECS["tailgating"]
    with pytest.raises(ValueError, match=r"Bare\.toy_threshold: declare it with param"):
        register(RoadRule("toy_bare", Bare, lambda p, ctx: _never(), (spec,)))
    # the other declarer named bare (a rule's name, or CommonParams)
    with pytest.raises(ValueError, match=r"^road rule 'toy_clash': parameter 'fcw_ttc_s' is already declared by forward_collision$"):
        register(RoadRule("toy_clash", Clash, lambda p, ctx: _never(), (spec,)))
    with pytest.raises(ValueError, match=r"^road rule 'toy_clash': parameter 'max_gap_s' is already declared by CommonParams$"):
        register(RoadRule("toy_clash", CommonClash, lambda p, ctx: _never(), (spec,)))
    with pytest.raises(ValueError, match="declare the spec of every event type"):
        register(RoadRule("toy_nospec", CommonParams, lambda p, ctx: _never(), ()))
    with pytest.raises(ValueError, match="'tailgating' is already registered"):
        register(RoadRule("tailgating", Clash, lambda p, ctx: _never(), (spec,)))
    assert [r.name for r in road_rules()] == ["tailgating", "forward_collision", "stop_sign", "red_light", "speeding"]


def _never() -> Rule[RoadSample]:
    raise AssertionError("a rule refused at registration is never built")


@dataclass(frozen=True, slots=True)
class _ToyParams:
    toy_min_s: float = param(2.0, "A toy rule's threshold: a [road_events] key.", gt=0)
    toy_rate_hz: float = param(
        25.0, "A constant of the toy rule that no config sets.", gt=0, config=False,
    )


def test_road_event_params_split_by_declarer_even_for_a_rule_named_common_params() -> None:
    """The engine's own names go to CommonParams by name, each rule's to its params: a rule
    whose name is "CommonParams" (what the owners table records for the engine's names) gets
    its own parameters and none of the engine's."""
    spec = dataclasses.replace(SPECS["tailgating"], type=EventType.define("toy_named_common"), title="Toy")
    toy = register(RoadRule("CommonParams", _ToyParams, lambda p, ctx: _never(), (spec,)))
    try:
        params = RoadEventParams(toy_min_s=3.0, max_gap_s=2.0, fcw_ttc_s=1.5)
        assert params.of(toy) == _ToyParams(toy_min_s=3.0)
        assert params.common == CommonParams(max_gap_s=2.0) and params.fcw_ttc_s == 1.5
    finally:
        unregister("CommonParams")
        EventType.undefine("toy_named_common")


def test_a_rule_parameter_declared_config_false_is_no_key_and_stays_at_its_default(tmp_path: Path) -> None:
    """``param(..., config=False)`` in a road rule's params, honoured as in [motion] and [cabin]
    (config/derive.py): no key, no docs row, no client option, and the road stage's params
    hold its default while the rule's other parameters come from the config."""
    spec = dataclasses.replace(SPECS["tailgating"], type=EventType.define("toy_config_false"), title="Toy")
    toy = register(RoadRule("toy_config_false", _ToyParams, lambda p, ctx: _never(), (spec,)))
    try:
        model = road_events_model()
        assert "toy_min_s" in model.model_fields and "toy_rate_hz" not in model.model_fields
        assert "toy_min_s" in RoadEventParams.names() and "toy_rate_hz" not in RoadEventParams.names()
        assert "toy_min_s" in road_client_keys() and "toy_rate_hz" not in road_client_keys()
        docs = config_markdown()
        assert "| `toy_min_s` | `2.0` |" in docs and "toy_rate_hz" not in docs
        conf = tmp_path / "c.toml"
        conf.write_text("[road_events]\ntoy_min_s = 3.0\nfcw_ttc_s = 1.5\n", encoding="utf-8")
        params = params_from_config(load_config(conf).road_events)
        assert params.of(toy) == _ToyParams(toy_min_s=3.0, toy_rate_hz=25.0)
        assert params.fcw_ttc_s == 1.5 and params.common == CommonParams()
        assert params == RoadEventParams(**{k: getattr(load_config(conf).road_events, k) for k in RoadEventParams.names()})
        conf.write_text("[road_events]\ntoy_rate_hz = 30.0\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=r"road_events\.toy_rate_hz: unknown key"):
            load_config(conf)
        # given in code (not by the config), it is still a parameter of the rule
        assert RoadEventParams(toy_rate_hz=30.0).of(toy).toy_rate_hz == 30.0
    finally:
        unregister("toy_config_false")
        EventType.undefine("toy_config_false")
    assert "toy_min_s" not in road_events_model().model_fields
