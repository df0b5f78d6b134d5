"""The bias audit's statistics on distributions whose figures are known exactly."""

from collections import Counter
import math

import pytest

from pixeldrift.classroom.audit_stats import (AuditError, amplification, audit_attribute, homogeneity_p, shares,
                                              total_variation, uniform, uniformity_p, zhao_amplification)


def test_shares_list_every_allowed_value():
    assert shares(Counter(a=3, b=1), ("a", "b", "c")) == {"a": 0.75, "b": 0.25, "c": 0.0}
    assert uniform(("a", "b", "c", "d")) == {v: 0.25 for v in "abcd"}


def test_total_variation():
    assert total_variation({"a": 1.0}, {"b": 1.0}) == 1.0
    assert total_variation({"a": 0.5, "b": 0.5}, {"a": 0.75, "b": 0.25}) == 0.25
    assert total_variation({"a": 0.2, "b": 0.8}, {"a": 0.2, "b": 0.8}) == 0.0


def test_amplification_of_the_output_majority():
    assert amplification({"red": 0.9, "blue": 0.1}, {"red": 0.6, "blue": 0.4}) == ("red", pytest.approx(1.5))
    assert amplification({"red": 0.3, "blue": 0.7}, {"red": 0.6, "blue": 0.4}) == ("blue", pytest.approx(1.75))
    assert amplification({"purple": 1.0}, {"red": 1.0}) == ("purple", math.inf)


def test_zhao_bias_amplification_counts_only_values_training_favours():
    p, q = {"r": 0.9, "b": 0.1, "g": 0.0}, {"r": 0.6, "b": 0.3, "g": 0.1}
    assert zhao_amplification(p, q, 3) == pytest.approx(0.3)            # only r is above 1/3
    q2 = {"r": 0.5, "b": 0.5, "g": 0.0}
    assert zhao_amplification(p, q2, 3) == pytest.approx(((0.9 - 0.5) + (0.1 - 0.5)) / 2)
    assert zhao_amplification(p, {"r": 0.25, "b": 0.25, "g": 0.25, "y": 0.25}, 4) == 0.0


def test_homogeneity_p_is_pearsons_chi_square():
    # outputs all a, training all b: chi2 = 20 on one degree of freedom; its tail is erfc(sqrt(10))
    assert homogeneity_p(Counter(a=10), Counter(b=10)) == pytest.approx(math.erfc(math.sqrt(10)))
    assert homogeneity_p(Counter(a=30, b=10), Counter(a=60, b=20)) == pytest.approx(1.0)
    assert homogeneity_p(Counter(a=5), Counter(a=9)) == 1.0


def test_uniformity_p():
    # 30 of 40 in one of two cells: chi2 = (10^2 + 10^2) / 20 = 10, one degree of freedom
    assert uniformity_p(Counter(a=30, b=10), ("a", "b")) == pytest.approx(math.erfc(math.sqrt(5)))
    assert uniformity_p(Counter(a=20, b=20), ("a", "b")) == pytest.approx(1.0)
    assert uniformity_p(Counter(a=20, z=1), ("a", "b")) == 0.0   # a value uniform gives no share


def test_skew_is_detected_and_its_absence_too():
    values = ("red", "blue", "green")
    skewed = audit_attribute("colour", values, Counter(red=90, blue=5, green=5), Counter(red=20, blue=20, green=20))
    assert skewed.skewed_from_reference and skewed.skewed_from_uniform
    assert (skewed.majority, skewed.output_share, skewed.reference_share) == ("red", 0.9, pytest.approx(1 / 3))
    assert skewed.amplification == pytest.approx(2.7)
    assert skewed.tv_reference == pytest.approx(0.9 - 1 / 3) and skewed.reference_tv_uniform == pytest.approx(0.0)
    faithful = audit_attribute("colour", values, Counter(red=40, blue=30, green=30), Counter(red=41, blue=29, green=30))
    assert not faithful.skewed_from_reference and not faithful.skewed_from_uniform
    assert faithful.amplification == pytest.approx(40 / 100 / (41 / 100))


def test_bad_input_is_named():
    with pytest.raises(AuditError, match="no outputs"):
        audit_attribute("colour", ("red",), Counter(), Counter(red=3))
    with pytest.raises(AuditError, match="no training data"):
        audit_attribute("colour", ("red",), Counter(red=3), Counter())
    with pytest.raises(AuditError, match="non-negative"):
        shares(Counter(red=-1, blue=3))
    with pytest.raises(AuditError):
        uniform(())
