"""Driver monitoring from the cabin camera: per-frame signals and the event rules.

The adapters turn a cabin frame into a :class:`~saferoad.domain.cabin.signals.CabinSample`
(face found, eye aspect ratios, head pose angles, mouth opening, camera obstruction); the
:class:`~saferoad.domain.cabin.monitor.CabinMonitor` turns the stream of samples (and the ego
speed) into ``drowsiness``, ``distraction``, ``camera_obstructed`` and ``phone_use`` events. The
same code runs frame by frame on the edge and over a whole recording in batch. Each rule is a
module that registers itself (``registry.py``): the monitor's own in ``rules/`` (imported first,
in their order), any other in ``rules/`` or here; this package imports every module it holds, so
a new one is found without editing a table, and the monitor runs it after the built-in ones.

Angle conventions (degrees, head relative to the camera):

* ``yaw_deg`` positive: the driver turns to **their own left** (in a non-mirrored driver-facing
  camera the face turns towards the image's right);
* ``pitch_deg`` positive: the head tilts **down** (chin towards the chest);
* ``roll_deg`` positive: the head tilts towards the driver's **left** shoulder.
"""

import importlib
import pkgutil

from saferoad.domain.cabin.monitor import CabinMonitor, CabinState, CabinThresholds
from saferoad.domain.cabin.signals import (
    CabinSample,
    eye_aspect_ratio,
    frame_obstruction,
    mouth_open_ratio,
)

importlib.import_module(f"{__name__}.rules")  # the monitor's own rules first, in their order
for _mod in pkgutil.iter_modules(__path__):  # every cabin rule module registers itself on import
    importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = [
    "CabinMonitor",
    "CabinSample",
    "CabinState",
    "CabinThresholds",
    "eye_aspect_ratio",
    "frame_obstruction",
    "mouth_open_ratio",
]
