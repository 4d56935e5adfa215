"""``perception.detector``: one config model per detector, told apart by ``type``.

Frigate's detector plugin pattern (a ``DetectorConfig`` base, each plugin's model narrowing
``type`` to a ``Literal``, a pydantic discriminated union over the registered models). Two
forms are accepted, both checked by the same union:

* the table form ``[perception.detector]`` ``type = "grpc"`` ``url = "grpc://..."``;
* the old string form ``detector = "grpc"`` (also ``--detector``, ``--set
  perception.detector=grpc`` and the gRPC service's ``options.detector``), repaired to
  ``{type = "grpc"}`` before validation.

A detector config whose keys all keep their defaults dumps as its bare ``type`` string, so
``config.model_dump()``, :meth:`SaferoadConfig.fingerprint` and the evaluation cache keys of
a config written in the old form are what they were before the table form existed
(``tests/perception/test_detector_plugins.py``).

Only ``onnx``'s model lives here, because it is ``perception.detector``'s default
(``config/perception.py`` needs the class). Every other detector is ONE module of the plugin
package ``saferoad/adapters/detectors/`` holding its config model and its factory, registered
on import (``adapters/detectors.register``): ``grpc.py`` and ``replay.py`` are such modules.
The config cannot import them (the application imports the config, and "application does
not import adapters" forbids the chain application -> config -> adapters), so whatever loads
a config imports the plugin package first: the composition root (``entrypoints/wiring``), the
CLI's config loader, the public API (``saferoad.load_config``) and the test session do; a
config unpickled in a worker imports its model's module, which registers the package.
"""

from __future__ import annotations

import sys
import typing
from functools import lru_cache
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, ValidationError, model_serializer
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from saferoad.config.base import Section


class DetectorConfig(Section):
    """Base of every detector's config: ``type`` names the detector (its factory)."""

    type: str = Field(description="Which detector: the plugin's name.")

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Keys all at their defaults: the bare name, as the old string form dumped (keeps
        # config fingerprints and evaluation cache keys of old-style configs unchanged).
        for key, f in type(self).model_fields.items():
            if key != "type" and getattr(self, key) != f.get_default(call_default_factory=True):
                return handler(self)
        return self.type


class OnnxDetectorConfig(DetectorConfig):
    """``perception.model``'s card on local ONNX Runtime."""

    type: Literal["onnx"] = Field("onnx", description="Local ONNX Runtime.")


PLUGIN_PACKAGE = "saferoad.adapters.detectors"
"""The package whose modules are the in-tree detector plugins (named, never imported here)."""

_VARIANTS: dict[str, type[DetectorConfig]] = {}
# Not a domain/plugin_registry.Registry as the adapters' tables are: its checks and messages
# differ from Registry's. A taken type is refused unless it is the same class (identity, not a
# module: a re-imported plugin module's new class is refused), naming the class: "detector type
# 'x' is already registered by XConfig" (Registry: "... (by <module>)"). An unknown type is
# "unknown detector type 'x' (known: ...)" with no location of its own - pydantic prefixes
# "perception.detector:" (Registry.lookup would add it a second time) - plus the hint while the
# plugin package is not imported, and a table without a type has its own message. All that
# would be left shared is a dict and a pop.


def detector_tag(model: type[DetectorConfig]) -> str:
    """The one ``type`` value a variant's ``Literal`` allows."""
    args = typing.get_args(model.model_fields["type"].annotation)
    if len(args) != 1 or not isinstance(args[0], str):
        raise ValueError(f"{model.__name__}.type must be a Literal of one name (got {args!r})")
    return args[0]


def register_detector_config(model: type[DetectorConfig]) -> type[DetectorConfig]:
    """Add a variant to the union ``perception.detector`` is validated by (usable as a class
    decorator). Registering another model under a taken name is an error."""
    tag = detector_tag(model)
    old = _VARIANTS.get(tag)
    if old is not None and old is not model:
        raise ValueError(f"detector type {tag!r} is already registered by {old.__name__}")
    _VARIANTS[tag] = model
    _union.cache_clear()
    return model


def unregister_detector_config(tag: str) -> None:
    """Drop a variant (a test's plugin, when the test ends)."""
    _VARIANTS.pop(tag, None)
    _union.cache_clear()


def detector_variants() -> dict[str, type[DetectorConfig]]:
    """The registered variants by ``type``."""
    return dict(_VARIANTS)


@lru_cache(maxsize=1)
def _union() -> TypeAdapter[DetectorConfig]:
    models = tuple(_VARIANTS.values())
    union: Any = models[0] if len(models) == 1 else Union.__getitem__(models)  # built from the registry at run time
    return TypeAdapter(Annotated[union, Field(discriminator="type")])


def parse_detector(value: Any) -> DetectorConfig:
    """``value`` (a name, a table or a model) as its variant's model; a ``ValueError`` names
    the key and the known types."""
    if isinstance(value, DetectorConfig):
        return value
    if isinstance(value, str):
        value = {"type": value}  # the old string form
    known = ", ".join(sorted(_VARIANTS))
    if PLUGIN_PACKAGE not in sys.modules:  # a name lookup, not an import (see the docstring)
        known += f"; the in-tree detector plugins register when {PLUGIN_PACKAGE} is imported"
    if isinstance(value, dict) and value.get("type") is not None and value["type"] not in _VARIANTS:
        raise ValueError(f"unknown detector type {value['type']!r} (known: {known})")
    if isinstance(value, dict) and "type" not in value:
        raise ValueError(f"a detector table needs a type (one of: {known})")
    try:
        return _union().validate_python(value)
    except ValidationError as err:
        parts = []
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"][1:])  # [0] is the union's tag
            what = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
            parts.append(f"{loc or 'detector'}: {what}" + ("" if e["type"] == "extra_forbidden" else f" (got {e.get('input')!r})"))
        raise ValueError("; ".join(parts)) from None


register_detector_config(OnnxDetectorConfig)
