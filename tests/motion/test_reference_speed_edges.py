"""The GPS speed reference past the first and last fix (issue 15, a defect the simulator's phone
profile exposed): a phone's IMU runs up to a second past its last 1 Hz fix. The engine used to
fill that stretch with the drive's median speed, a step that the source high-pass restoration
(a_long += LP_τ(dv/dt)) read as a push: a 1.07 g harsh acceleration of a car standing still at
the end of a drive. The reference now holds the nearest fix there (no speed change invented)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from saferoad.application.stages.motion import params_from_config
from saferoad.config import SaferoadConfig
from saferoad.domain.motion.engine import run_engine
from saferoad.domain.simulation import get_scenario
from saferoad.domain.simulation.profiles import profile_assignments
from saferoad.domain.simulation.sensors import simulate_gps, simulate_imu
from saferoad.domain.types import G, GpsSeries


def test_no_push_is_invented_after_the_last_gps_fix() -> None:
    cfg = SaferoadConfig()
    params = params_from_config(cfg.motion)
    worst = []
    for seed in range(3):
        # a short city drive that ends standing still for 3 s, on the phone profile (IMU 10 Hz,
        # gravity removed by a 1 s high-pass, no gyroscope, GPS 1 Hz)
        sc = get_scenario("mixed_drive").make(
            [*profile_assignments("phone", seed), "segments=3", f"plan_seed={seed}"], seed=seed
        )
        rng = np.random.default_rng(seed)
        imu, gps = simulate_imu(sc, sc.imu, rng), simulate_gps(sc, sc.gps, rng)
        # the last fix 0.9-1 s before the IMU's last sample, as a 1 Hz receiver may leave it
        keep = gps.t_s <= imu.t_s[-1] - 0.9
        gps = GpsSeries(*(np.asarray(getattr(gps, f.name))[keep] for f in fields(GpsSeries)))
        last_fix = float(gps.t_s[-1])
        res = run_engine(imu, gps, None, params)
        assert res.frame is not None and res.frame.method == "gps-regression"
        late = [e for e in res.events if e.end_s > last_fix - 2.0]
        assert late == [], f"seed {seed}: events at the end of a drive that stands still: {late}"
        # the car has stood still since before the last fix: the measured acceleration there is
        # the sensor's noise, far under the lowest graded band (moderate, 0.23 g)
        stopped = float(sc.ego.t[np.flatnonzero(sc.ego.v > 0.0)[-1]]) + 1.0
        tl = res.timeline
        tail = tl["t_s"] >= stopped
        assert tail.sum() >= 10
        worst.append(float(np.max(np.abs(tl["long_acc_mps2"][tail]))) / G)
    assert max(worst) < 0.05, f"|a_long| while standing still at the end: {worst} g"
