"""The drive simulator's domain: scenario model, kinematics, sensor models, the road
camera's exact view, ground truth by the published definitions, and the scenario library.

Pure NumPy/SciPy and deterministic for a seed: the adapters in
``saferoad.adapters.simulation`` write the result as a recording (docs/simulator.md).
"""

from saferoad.domain.simulation.model import Scenario
from saferoad.domain.simulation.params import Param, Params, resolve
from saferoad.domain.simulation.scenarios import SCENARIOS, ScenarioSpec, get_scenario
from saferoad.domain.simulation.truth import (
    CabinDefinitions,
    Definitions,
    MotionDefinitions,
    RoadDefinitions,
    ground_truth,
)

__all__ = [
    "SCENARIOS",
    "CabinDefinitions",
    "Definitions",
    "MotionDefinitions",
    "Param",
    "Params",
    "RoadDefinitions",
    "Scenario",
    "ScenarioSpec",
    "get_scenario",
    "ground_truth",
    "resolve",
]
