"""The driver monitor's rules, one module each, registered on import (``../registry.py``):
``drowsiness``, ``distraction``, ``camera_obstructed`` (``obstruction``) and ``phone_use``, in
this order - the order the monitor has always run them in, so the events ending on one frame
come out as before - then every other module here, by name (a new cabin rule; one in
``domain/cabin/`` itself is found too).

Their thresholds are the monitor's (``thresholds.CabinThresholds``, where the keys keep their
place in ``[cabin]``; the phone rule's are its ``phone`` group), as the harsh motion rule's are
``EngineParams``'; each module declares its spec beside its rule.
"""

import importlib
import pkgutil

BUILT_IN = ("drowsiness", "distraction", "obstruction", "phone_use")
"""The built-in rule modules, in the order they register (and so run)."""

for _name in (*BUILT_IN, *sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in BUILT_IN)):
    importlib.import_module(f"{__name__}.{_name}")
