"""Fixtures shared by every test.

``shared_dir`` is the real material (``SAFEROAD_SHARED``, default ``../shared`` beside the
repository). In CI (``CI=true``) it always exists, so a test that needs it fails there rather
than skipping; on a developer machine without it, such tests skip.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import pickle
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

# CLI output is checked as text: give Rich a wide, fixed console (no terminal under CI), set
# before any saferoad module creates its consoles.
os.environ["COLUMNS"] = "200"
os.environ.pop("FORCE_COLOR", None)

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

# The in-tree detector plugins (grpc, replay ...) register their config models on import, as
# every entry point imports them before it loads a config (saferoad/adapters/detectors).
import saferoad.adapters.detectors  # noqa: F401
from saferoad.config import ConfigError, SaferoadConfig, config_hash, load_config
from saferoad.config.docs import config_markdown
from saferoad.domain.event_specs import SPECS
from saferoad.domain.types import EventType

REPO = Path(__file__).resolve().parents[1]


def shared_path() -> Path:
    return Path(os.environ.get("SAFEROAD_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = shared_path()
    if not (path / "data").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared material missing at {path} (set SAFEROAD_SHARED)")
        pytest.skip(f"shared material not found at {path}")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


# --- snapshots compared with tolerances ------------------------------------------------------
# Floating-point results differ in their last bits between CPUs (AVX2 vs AVX-512 kernels in
# ONNX Runtime, NumPy and OpenCV), so a snapshot that stores a rounded float and compares it
# exactly fails wherever a value sits on a rounding boundary (a yaw of 23.49 degrees stored as 23
# here reads 23.51 -> 24 elsewhere). ``approx_snapshot`` stores JSON and compares every number
# within a tolerance chosen per key; everything else (types, counts, strings, booleans,
# structure) must match exactly.


def _numbers_match(got: Any, want: Any, tol: float, rel: float) -> bool:
    if isinstance(got, int) and isinstance(want, int) and tol == 0.0 and rel == 0.0:
        return got == want
    return math.isclose(float(got), float(want), rel_tol=rel, abs_tol=tol)


def approx_equal(
    got: Any, want: Any, *, default: float, rel: float, keys: Mapping[str, float], key: str | None = None
) -> bool:
    """``got`` equals ``want`` with numbers within ``keys[key]`` (else ``default``) absolute or
    ``rel`` relative; ints stay exact unless their key has a tolerance."""
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and got.keys() == want.keys()
            and all(approx_equal(got[k], want[k], default=default, rel=rel, keys=keys, key=k) for k in want)
        )
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(approx_equal(g, w, default=default, rel=rel, keys=keys, key=key) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    numeric = (int, float)
    if isinstance(want, numeric) and isinstance(got, numeric):
        if key in keys:
            return _numbers_match(got, want, keys[key], rel)
        if isinstance(want, float) or isinstance(got, float):
            return _numbers_match(got, want, default, rel)
        return bool(got == want)
    return bool(got == want)


def _approx_extension(default: float, rel: float, keys: Mapping[str, float]) -> type[JSONSnapshotExtension]:
    class ApproxJSONExtension(JSONSnapshotExtension):
        def matches(self, *, serialized_data: Any, snapshot_data: Any) -> bool:
            try:
                got, want = json.loads(serialized_data), json.loads(snapshot_data)
            except (TypeError, ValueError):
                return False
            return approx_equal(got, want, default=default, rel=rel, keys=dict(keys))

    return ApproxJSONExtension


class ApproxSnapshot(Protocol):
    def __call__(self, *, default: float = ..., rel: float = ..., keys: Mapping[str, float] | None = ...) -> SnapshotAssertion: ...


@pytest.fixture
def approx_snapshot(snapshot: SnapshotAssertion) -> ApproxSnapshot:
    """``assert value == approx_snapshot(default=1e-3, keys={"yaw_deg": 1.5})``: a JSON snapshot
    whose numbers compare within the given absolute tolerances (``keys`` by the innermost dict
    key; ``default`` for every other float; ints exact unless named) or ``rel`` relative."""

    def make(*, default: float = 1e-6, rel: float = 0.0, keys: Mapping[str, float] | None = None) -> SnapshotAssertion:
        return snapshot.use_extension(_approx_extension(default, rel, keys or {}))

    return make


# --- config sections pinned to what they were ------------------------------------------------
# tests/test_derived_sections.py, tests/road_events/test_rule_registry.py,
# tests/lanes/test_lanes_section.py and tests/perception/test_perception_section.py each pin a
# section derived from the domain's params to the hashes and error texts measured on the
# hand-written section it replaced; these are their shared checks.


class SectionPins:
    """The checks of a pinned section (fixture ``section_pins``)."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp = tmp_path

    def dumps_as_before(
        self, section: str, keys: Mapping[str, object] | None, digest: str, names: set[str] | None = None
    ) -> None:
        """``[section]`` with ``keys`` set (``None``: every default) hashes to ``digest``, and
        so does every fingerprint; its dump written back as a table gives the same config;
        ``names``, when given, are its keys."""
        cfg = load_config(None, {section: dict(keys)} if keys else None)
        data = cfg.model_dump(mode="json")
        if names is not None:
            assert set(data[section]) == names
        assert config_hash(data[section]) == digest
        assert cfg.fingerprint() == config_hash(data)
        assert load_config(None, {section: dict(data[section])}).fingerprint() == cfg.fingerprint()

    def error_as_before(self, body: str, why: str) -> None:
        """A config file holding ``body`` is refused with ``why`` under the file's name."""
        conf = self._tmp / "c.toml"
        conf.write_text(body, encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            load_config(conf)
        assert str(err.value) == f"{conf}: invalid configuration\n  {why}"

    @staticmethod
    def pickles(cfg: SaferoadConfig) -> SaferoadConfig:
        """``cfg`` through pickle (as to a spawn or Ray worker): equal, same fingerprint."""
        again: SaferoadConfig = pickle.loads(pickle.dumps(cfg))
        assert again == cfg and again.fingerprint() == cfg.fingerprint()
        return again

    def rule_keys_until_dropped(
        self, section: str, rule: str, key: str, *, bad: tuple[str, str], row: str, client_key: str,
        model: Callable[[], type[Any]], base: type[Any], client_keys: Callable[[], frozenset[str]],
        unregister: Callable[[str], object], check_client: Callable[[dict[str, Any]], None],
    ) -> None:
        """A registered rule's params as ``[section]`` keys (the motion and cabin rule-registry
        tests): the TOML line ``bad[0]`` is refused with ``bad[1]`` under the file's name and
        the key; ``key``'s row of docs/config.md starts with ``row``; a client of ``saferoad
        serve`` may set ``client_key`` and ``key``; the config pickles through the model derived
        at run time. Dropped (``unregister(rule)``): ``key`` is unknown again to the file and to
        a client, the spec is gone and the model is ``base`` again."""
        self.error_as_before(f"[{section}]\n{bad[0]}\n", f"{section}.{bad[1]}")
        assert row in config_markdown()
        assert client_key in client_keys()
        check_client({section: {key: 5.0}})
        again = self.pickles(load_config(None, {section: {key: 2.0}}))
        assert type(getattr(again, section)) is model()
        unregister(rule)
        conf = self._tmp / "c.toml"
        conf.write_text(f"[{section}]\n{key} = 3.0\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=rf"{section}\.{key}: unknown key"):
            load_config(conf)
        assert rule not in SPECS and model() is base
        assert key not in client_keys()
        from saferoad.entrypoints.services.analysis_service import _Fail  # grpc: loaded here only

        with pytest.raises(_Fail, match=rf"{section}\.{key}: unknown key") as refused:
            check_client({section: {key: 5.0}})
        assert refused.value.code.name == "INVALID_ARGUMENT"


@pytest.fixture
def section_pins(tmp_path: Path) -> SectionPins:
    return SectionPins(tmp_path)


@contextmanager
def _rule_module(path: Path, rule: str, unregister: Callable[[str], object]) -> Iterator[ModuleType]:
    """A test-local rule module loaded from its file (it defines its event type ``rule`` and
    registers its rule), then dropped, rule, type and module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        unregister(rule)
        EventType.undefine(rule)
        sys.modules.pop(spec.name, None)


@pytest.fixture
def rule_module() -> Callable[[Path, str, Callable[[str], object]], AbstractContextManager[ModuleType]]:
    """``with rule_module(path, type_name, registry.unregister) as mod``: the road, motion and
    cabin rule-registry tests' one-module rules (``tests/*/..._rule.py``)."""
    return _rule_module
