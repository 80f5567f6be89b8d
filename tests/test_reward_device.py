"""reward_model.device: the batched members compute what the member-by-member path
does, a GPU that is not there is refused before anything starts, and the trainer's
state and the service's metrics say where fits ran. (On a machine with CUDA,
bench/reward_fit_gpu.py measures the fits; this machine has none.)"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.reward.config import RewardModelConfig
from rbrl_ray.reward.device import check_before_ray, fit_device
from rbrl_ray.reward.model import RewardEnsemble
from rbrl_ray.reward.trainer import RewardTrainer
from rbrl_ray.rllib.service_keeper import service_bundle
from rbrl_ray.validation import ConfigError

NO_CUDA = not torch.cuda.is_available()


def test_all_members_at_once_match_the_members_in_turn_values_and_gradients():
    torch.manual_seed(0)
    model = RewardEnsemble(5, 1, members=3, hidden=32, layers=3)
    obs, act = torch.randn(3, 4, 50, 5), torch.randn(3, 4, 50, 1)
    in_turn = model.per_member(obs, act)
    in_turn.sum().backward()
    expected = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    at_once = model.per_member(obs, act, batched=True)
    at_once.sum().backward()
    assert at_once.shape == in_turn.shape == (3, 4, 50)
    assert torch.allclose(at_once, in_turn, atol=1e-6)
    for got, want in zip((p.grad for p in model.parameters()), expected, strict=True):
        assert torch.allclose(got, want, atol=1e-5)  # each member's own weights learn


@pytest.mark.skipif(not NO_CUDA, reason="checks the refusal where there is no CUDA")
def test_a_gpu_that_is_not_there_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="torch sees no CUDA device"):
        fit_device("cuda")
    assert fit_device("auto").type == fit_device("cpu").type == "cpu"
    spec = ExperimentSpec(env="cartpole-balance", method="ours", classes=3,
                          reward_model={"device": "cuda"}, service_gpus=0.25)  # fmt: skip
    with pytest.raises(ConfigError, match="cartpole-balance/ours: the rating service asks"):
        check_before_ray([spec])
    done = subprocess.run(
        [sys.executable, "-m", "rbrl_ray.train", "--env", "cartpole-balance", "--method", "ours",
         "--classes", "3", "--timesteps", "10", "--reward-device", "cuda", "--out", "/nonexistent"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "torch sees no CUDA device" in done.stderr


def test_cuda_fits_need_a_gpu_of_the_services_own():
    with pytest.raises(ValidationError, match="give the rating service one"):
        ExperimentSpec(env="cartpole-balance", method="ours", classes=3,
                       reward_model={"device": "cuda"})  # fmt: skip
    shared = ExperimentSpec(env="cartpole-balance", method="ours", classes=3,
                            reward_model={"device": "cuda"}, service_gpus=0.25)  # fmt: skip
    assert service_bundle(shared) == {"GPU": 0.25}
    both = shared.model_copy(update={"service_cpus": 1.0})
    assert service_bundle(both) == {"CPU": 1.0, "GPU": 0.25}
    assert service_bundle(ExperimentSpec(env="cartpole-balance", method="ppo")) is None


def test_the_trainers_state_is_on_cpu_and_says_nothing_changed_on_cpu():
    rng = np.random.default_rng(0)
    from rbrl_ray.feedback.segments import Segments

    segments = Segments(rng.normal(size=(16, 50, 5)).astype(np.float32),
                        rng.normal(size=(16, 50, 1)).astype(np.float32),
                        np.zeros((16, 50), np.float32))  # fmt: skip
    labels = rng.integers(0, 3, 16)
    config = RewardModelConfig(max_epochs=2, hidden=16)
    default = RewardTrainer(5, 1, 3, "ours", config, seed=0)
    auto = RewardTrainer(5, 1, 3, "ours", config.model_copy(update={"device": "auto"}), seed=0)
    assert default.device.type == "cpu" and auto.device.type == ("cpu" if NO_CUDA else "cuda")
    a, b = default.fit(segments, labels), auto.fit(segments, labels)
    if NO_CUDA:  # the same path: the same numbers
        assert (a.epochs, a.train_accuracy, a.loss) == (b.epochs, b.train_accuracy, b.loss)
    state = auto.state_dict()
    assert all(t.device.type == "cpu" for t in state["model"].values())
