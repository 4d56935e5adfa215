"""Config sections derived from the domain's params dataclasses (issue 16 items 5-6).

A rule parameter is declared once, in the domain (:func:`saferoad.domain.params.param`: its
default, description and bounds). A section holding such parameters is written as a class of
its config-only keys (I/O choices, models, values the config gives in another form) and
derived, once at import, into the model the config loads: the hand-written keys first, then
every parameter of the params classes with ``config=True`` (their
:func:`~saferoad.domain.params.group` fields' parameters in their place), with the domain's
names, types, defaults, descriptions and bounds. The application turns the loaded section back
into the params with :func:`saferoad.domain.params.params_from`; the keys a client of
``saferoad serve`` may set are the parameters not declared ``client=False`` plus the listed
config-only ones (:func:`client_keys`).

The type checker sees the hand-written class only (the derived keys are read through the
params), so a module declares::

    class _MotionKeys(Section): ...               # config-only keys

    if TYPE_CHECKING:
        MotionConfig: TypeAlias = _MotionKeys
    else:
        MotionConfig = derived_section("MotionConfig", _MotionKeys, EngineParams)

``[road_events]`` is derived by the same :func:`derived_section` and :func:`client_keys`, at
run time (rules register themselves): ``config/road_events.py``; its params are read back by
``RoadEventParams.from_section`` (``params_from`` for each rule's class). ``[motion]`` and
``[cabin]`` add the params of their registered rules the same way. The three share one
:class:`DerivedSection` (the current model, cached per registry version; parse, default, client
keys) and :class:`DerivedKeys` (their hand-written class: pickles as its dump, re-parsed where
unpickled)::

    class _MotionKeys(DerivedKeys): ...
    SECTION = DerivedSection("MotionConfig", _MotionKeys, MotionConfig,
                             registry.extra_param_classes, registry.registry_version)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import Field, create_model

from saferoad.config.base import Section
from saferoad.domain.params import flat_params

S = TypeVar("S", bound=Section)


def derived_fields(*params: type[Any]) -> dict[str, tuple[Any, Any]]:
    """Pydantic field definitions of every ``config=True`` parameter of ``params`` (flat, in
    order): ``name -> (type, Field(default, description, bounds))``."""
    fields: dict[str, tuple[Any, Any]] = {}
    for cls in params:
        for name, typ, default, info in flat_params(cls):
            if not info.config:
                continue
            if name in fields:
                raise ValueError(f"{cls.__name__}.{name}: already a parameter of another params class")
            fields[name] = (typ, Field(
                default, description=info.description, gt=info.gt, ge=info.ge, lt=info.lt, le=info.le,
            ))
    return fields


def derived_section(name: str, keys: type[S], *params: type[Any]) -> type[S]:
    """The section model ``name``: the hand-written ``keys`` class (its keys, docstring and
    validators) extended by the parameters of ``params``; a name in both is a ``ValueError``."""
    fields: dict[str, Any] = derived_fields(*params)
    both = sorted(set(fields) & set(keys.model_fields))
    if both:
        raise ValueError(f"{keys.__name__}: {both} are hand-written keys and also domain parameters")
    model: type[S] = create_model(
        name, __base__=keys, __module__=keys.__module__, __doc__=keys.__doc__, **fields,
    )
    return model


def client_keys(section_keys: Iterable[str], *params: type[Any]) -> frozenset[str]:
    """The keys of a derived section a client of ``saferoad serve`` may set: ``section_keys``
    (config-only keys that may be) and every ``config=True`` parameter of ``params`` not
    declared ``client=False``."""
    keys = set(section_keys)
    for cls in params:
        keys.update(name for name, _t, _d, info in flat_params(cls) if info.config and info.client)
    return frozenset(keys)


class DerivedKeys(Section):
    """The hand-written keys of a section derived at run time (:class:`DerivedSection`): an
    instance of a model derived from it pickles as its dump and is parsed again, by the model
    current where it is unpickled (a spawned worker registers the same rules at import)."""

    section: ClassVar[DerivedSection[Any]]
    """The :class:`DerivedSection` built on this class (set by it)."""

    def __reduce__(self) -> tuple[Callable[..., DerivedKeys], tuple[type[DerivedKeys], dict[str, Any]]]:
        return _parse_again, (type(self).section.keys, self.model_dump())


def _parse_again(keys: type[DerivedKeys], dump: dict[str, Any]) -> DerivedKeys:
    """Unpickling a :class:`DerivedKeys` instance: ``dump`` checked by the current model."""
    parsed: DerivedKeys = keys.section.parse(dump)
    return parsed


K = TypeVar("K", bound=DerivedKeys)


class DerivedSection(Generic[K]):
    """A config section whose model is derived at run time from registered rules: ``base`` (the
    model derived at import from ``keys``, or ``keys`` itself) extended by the params classes
    ``params()`` returns, rebuilt when ``version()`` (the rule registry's) changes."""

    def __init__(
        self, name: str, keys: type[K], base: type[K],
        params: Callable[[], Sequence[type[Any]]], version: Callable[[], int],
    ) -> None:
        self.name, self.keys, self.base = name, keys, base
        self._params, self._version = params, version
        self._derive = lru_cache(maxsize=4)(self._derived)
        keys.section = self

    def _derived(self, version: int) -> type[K]:
        extra = self._params()
        # config/derive.py's one derivation: base's keys as at import, then each param of extra
        return derived_section(self.name, self.base, *extra) if extra else self.base

    def model(self) -> type[K]:
        """The section's model now: ``base`` and the params of every registered rule."""
        return self._derive(self._version())

    def parse(self, value: Any) -> K:
        """``value`` (a table or a model) checked by the current :meth:`model`."""
        model = self.model()
        if isinstance(value, self.keys):
            if type(value) is model:
                return value
            value = value.model_dump()  # made before a rule was registered or dropped
        return model.model_validate(value)

    def default(self) -> K:
        """Every key at its default."""
        return self.model().model_validate({})

    def client_keys(self, fixed: Iterable[str] = ()) -> frozenset[str]:
        """``fixed`` and every registered rule's parameter (a config key) not declared
        ``client=False``."""
        return frozenset(fixed) | client_keys((), *self._params())
