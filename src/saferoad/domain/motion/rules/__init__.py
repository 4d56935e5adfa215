"""The motion rules: each module registers its rule, params and event specs
(:mod:`.registry`); this package imports every module it holds, so a new rule module is found
without editing a table, and the engine (batch and streaming) runs every registered rule.

The built-in harsh-driving rule (braking, acceleration, cornering, lane change: one vectorised
rule over the IMU, ``domain/motion/harsh.py``) lives beside the engine, whose manoeuvre grading
runs it too, and registers from its own module, imported first here.

The config imports this package to know the rules' ``[motion]`` keys and specs, so a rule
module must load without SciPy (NumPy is fine; ``regions.py`` holds the hysteresis regions).
"""

import importlib
import pkgutil

from saferoad.domain.motion import harsh as _harsh  # registers the harsh-driving rule first

for _mod in pkgutil.iter_modules(__path__):  # every rule module registers itself on import
    importlib.import_module(f"{__name__}.{_mod.name}")

del _harsh
