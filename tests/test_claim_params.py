"""``domain/rule_registry.claim_params``: the parameter-name check the road, motion and cabin rule
registries share (their families' tests: tests/road_events/test_rule_registry.py,
tests/motion/test_motion_rule_registry.py, tests/cabin/test_cabin_rule_registry.py)."""

from __future__ import annotations

import pytest

from saferoad.domain.rule_registry import claim_params


def test_each_name_is_claimed_once_and_a_second_claim_names_the_first_owner() -> None:
    owners = {"closed_ratio": "CabinThresholds"}
    claim_params(owners, "cabin rule 'a'", ["x", "y"])
    assert owners == {"closed_ratio": "CabinThresholds", "x": "cabin rule 'a'", "y": "cabin rule 'a'"}
    with pytest.raises(ValueError, match=r"^cabin rule 'b': parameter 'y' is already declared by cabin rule 'a'$"):
        claim_params(owners, "cabin rule 'b'", iter(["z", "y"]))
    with pytest.raises(ValueError, match=r"^motion rule 'c': parameter 'closed_ratio' is already declared by CabinThresholds$"):
        claim_params(owners, "motion rule 'c'", ("closed_ratio",))
    claim_params(owners, "cabin rule 'd'", [])  # no params: nothing claimed
    assert owners["z"] == "cabin rule 'b'" and "cabin rule 'd'" not in owners.values()


def test_an_owner_is_recorded_in_place_of_the_claimant_and_shown_in_the_next_refusal() -> None:
    owners = {"max_gap_s": "CommonParams"}
    claim_params(owners, "road rule 'a'", ["x"], owner="a")
    assert owners == {"max_gap_s": "CommonParams", "x": "a"}
    with pytest.raises(ValueError, match=r"^road rule 'b': parameter 'x' is already declared by a$"):
        claim_params(owners, "road rule 'b'", ["x"], owner="b")
    with pytest.raises(ValueError, match=r"^road rule 'b': parameter 'max_gap_s' is already declared by CommonParams$"):
        claim_params(owners, "road rule 'b'", ["max_gap_s"], owner="b")
