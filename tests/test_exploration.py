"""The state-entropy exploration reward: each row's normalised k-th-neighbour distance."""

import numpy as np
import pytest
import torch

from rbrl_ray.rllib.exploration import state_entropy_reward


def _brute_force(obs: np.ndarray, k: int) -> np.ndarray:
    distances = np.linalg.norm(obs[:, None, :] - obs[None, :, :], axis=-1)
    kth = np.sort(distances, axis=1)[:, k]  # column 0 is the row itself
    return kth / (kth.std(ddof=1) + 1e-8)


@pytest.mark.parametrize("k,chunk", [(1, 1024), (5, 7), (5, 1024)])
def test_reward_is_the_normalised_kth_neighbour_distance(k, chunk):
    obs = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    reward = state_entropy_reward(torch.from_numpy(obs), k, chunk=chunk).numpy()
    np.testing.assert_allclose(reward, _brute_force(obs, k), rtol=1e-4)


def test_a_rarely_visited_state_pays_most():
    obs = torch.zeros(40, 3)
    obs[:39] += torch.randn(39, 3) * 0.01
    obs[39] = 5.0  # far from every other state
    assert int(state_entropy_reward(obs, 5).argmax()) == 39


def test_too_few_states_give_zero_reward():
    assert state_entropy_reward(torch.randn(5, 3), 5).tolist() == [0.0] * 5
