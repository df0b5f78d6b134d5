"""The verifier's accuracy targets (issue 3), each on 3,000 seeded samples at 64 x 64.

- at least 99.5% of rendered scenes verify as correct;
- at least 99% still do after noise sigma 0.03, blur radius 0.5 and JPEG quality 75;
- at least 99% of swapped-caption negatives (right image, another scene's spec) are rejected;
- at least 99% of one-attribute changes (a count, a colour, a flipped relation, a minute) are rejected.
"""

import random

import pytest

from pixeldrift.world import Degradation
from pixeldrift.world.negatives import hard_negative
from pixeldrift.world.selfcheck import (check_specs, degraded_accuracy, hard_negative_rejection, rendered_accuracy,
                                        swapped_rejection)

SAMPLES = 3000


@pytest.mark.slow
def test_rendered_scenes_verify():
    assert rendered_accuracy(check_specs(SAMPLES, 101, 64), 64) >= 0.995


@pytest.mark.slow
def test_degraded_scenes_still_verify():
    settings = Degradation(noise_sigma=0.03, blur_radius=0.5, jpeg_quality=75)
    assert degraded_accuracy(check_specs(SAMPLES, 202, 64), 64, 202, settings) >= 0.99


@pytest.mark.slow
def test_swapped_captions_are_rejected():
    assert swapped_rejection(check_specs(SAMPLES, 303, 64), 64) >= 0.99


@pytest.mark.slow
def test_one_attribute_changes_are_rejected():
    assert hard_negative_rejection(check_specs(SAMPLES, 404, 64), 64, 404) >= 0.99


def test_hard_negatives_are_valid_specs_that_differ_from_the_original():
    rng = random.Random(5)
    for spec in check_specs(2000, 505, 64):
        changed = hard_negative(spec, rng)
        assert changed != spec and type(changed) is type(spec)
