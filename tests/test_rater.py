"""Synthetic rater: bins and the statistics of each noise model."""

import numpy as np
import pytest
from pydantic import ValidationError

from rbrl_ray.feedback.rater import SKIPPED, RaterConfig, RaterNoise, SyntheticRater, parse_noise

N = 200_000


def test_equal_width_bins_on_zero_to_segment_length():
    rater = SyntheticRater(RaterConfig(n_classes=5))
    returns = np.array([0.0, 9.99, 10.0, 25.0, 49.9, 50.0, 60.0, -1.0])
    assert rater.exact_classes(returns).tolist() == [0, 0, 1, 2, 4, 4, 4, 0]
    assert np.allclose(rater.bin_edges(), [0, 10, 20, 30, 40, 50])


def test_range_override_moves_the_bins():
    rater = SyntheticRater(RaterConfig(n_classes=2, low=0.0, high=4.0))
    assert rater.exact_classes(np.array([1.9, 2.1, 30.0])).tolist() == [0, 1, 1]


def test_noiseless_rater_is_exact():
    rater = SyntheticRater(RaterConfig(n_classes=3))
    returns = np.random.default_rng(0).uniform(0, 50, 1000)
    labels = rater.rate(returns, np.random.default_rng(1))
    assert np.array_equal(labels, rater.exact_classes(returns))


def test_mistake_moves_a_fraction_epsilon_to_an_adjacent_class():
    rater = SyntheticRater(RaterConfig(n_classes=5, noise=RaterNoise(mistake=0.2)))
    returns = np.full(N, 25.0)  # class 2 of 5
    labels = rater.rate(returns, np.random.default_rng(0))
    moved = labels != 2
    assert moved.mean() == pytest.approx(0.2, abs=0.005)
    assert set(np.unique(labels[moved])) == {1, 3}
    assert (labels[moved] == 1).mean() == pytest.approx(0.5, abs=0.01)


def test_mistake_at_the_edges_moves_inward():
    rater = SyntheticRater(RaterConfig(n_classes=4, noise=RaterNoise(mistake=0.3)))
    rng = np.random.default_rng(0)
    low = rater.rate(np.zeros(N), rng)
    high = rater.rate(np.full(N, 50.0), rng)
    assert set(np.unique(low)) == {0, 1} and (low == 1).mean() == pytest.approx(0.3, abs=0.005)
    assert set(np.unique(high)) == {2, 3} and (high == 2).mean() == pytest.approx(0.3, abs=0.005)


def test_boltzmann_frequencies_match_its_probabilities():
    beta = 2.0
    rater = SyntheticRater(RaterConfig(n_classes=4, noise=RaterNoise(beta=beta)))
    returns = np.full(N, 20.0)  # x = 1.6 class units: between classes 1 and 2
    labels = rater.rate(returns, np.random.default_rng(0))
    freq = np.bincount(labels, minlength=4) / N
    x = 1.6
    expected = np.exp(-beta * np.abs(x - (np.arange(4) + 0.5)))
    expected /= expected.sum()
    assert np.allclose(freq, expected, atol=0.005)
    assert freq.argmax() == 1  # the true bin stays the likeliest


def test_boltzmann_zero_is_uniform_and_large_is_exact():
    returns = np.random.default_rng(0).uniform(0, 50, N)
    uniform = SyntheticRater(RaterConfig(n_classes=3, noise=RaterNoise(beta=0.0)))
    freq = np.bincount(uniform.rate(returns, np.random.default_rng(1)), minlength=3) / N
    assert np.allclose(freq, 1 / 3, atol=0.005)
    sharp = SyntheticRater(RaterConfig(n_classes=3, noise=RaterNoise(beta=1e4)))
    agree = sharp.rate(returns, np.random.default_rng(2)) == sharp.exact_classes(returns)
    assert agree.mean() > 0.999


def test_skip_leaves_a_fraction_unrated():
    rater = SyntheticRater(RaterConfig(n_classes=3, noise=RaterNoise(skip=0.25)))
    labels = rater.rate(np.full(N, 40.0), np.random.default_rng(0))
    assert (labels == SKIPPED).mean() == pytest.approx(0.25, abs=0.005)
    assert set(np.unique(labels[labels != SKIPPED])) == {2}


def test_parse_noise_reads_settings_and_rejects_bad_ones():
    noise = parse_noise(["mistake=0.1", "beta=5", "skip=0.2"])
    assert noise == RaterNoise(mistake=0.1, beta=5.0, skip=0.2)
    with pytest.raises(ValueError, match="unknown noise setting 'temperature=1'.*mistake"):
        parse_noise(["temperature=1"])
    with pytest.raises(ValueError, match="needs a number"):
        parse_noise(["mistake=lots"])
    with pytest.raises(ValueError, match="mistake"):
        parse_noise(["mistake=1.5"])


@pytest.mark.parametrize("n", [1, 11])
def test_class_count_outside_two_to_ten_is_rejected(n):
    with pytest.raises(ValidationError):
        RaterConfig(n_classes=n)
