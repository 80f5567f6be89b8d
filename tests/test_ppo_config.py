"""RatingPPOConfig: the spec owns its settings, the caller's changes survive or fail
loudly, and the policy starts parameterised as SB3's MlpPolicy (the paper's PPO)."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.core import Columns
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

from rbrl_ray.envs import get_task
from rbrl_ray.experiment import PPO_PRESETS, ExperimentSpec, PPOSettings
from rbrl_ray.rllib.keys import SPEC_KEY, spec_of
from rbrl_ray.rllib.lean.env_runner import LeanEnvRunner
from rbrl_ray.rllib.lean.learner import LeanPPOTorchLearner
from rbrl_ray.rllib.lean_switches import LeanRatingRewardLearner, effective_settings
from rbrl_ray.rllib.policy_net import HIDDEN_GAIN, PI_OUTPUT_GAIN, VF_OUTPUT_GAIN
from rbrl_ray.rllib.ppo import RatingPPO, RatingPPOConfig, as_rating_config
from rbrl_ray.rllib.relabel import RatingRewardLearner


def spec(seed=0, **ppo):
    return ExperimentSpec(
        env="cartpole-balance",
        method="ppo",
        seed=seed,
        timesteps=1000,
        ppo=PPO_PRESETS["paper"].model_copy(update=ppo),
    )


def module_of(config, env="cartpole-balance"):
    task = get_task(env)
    obs = gym.spaces.Box(-np.inf, np.inf, (task.obs_dim,), np.float32)
    act = gym.spaces.Box(-1.0, 1.0, (task.act_dim,), np.float32)
    module_spec = config.get_rl_module_spec(spaces={"default_policy": (obs, act)})
    module_spec.observation_space, module_spec.action_space = obs, act
    return module_spec.build()


def linears(head):
    return [m for m in head.modules() if isinstance(m, torch.nn.Linear)]


def assert_orthogonal(layer, gain):
    w = layer.weight.detach().double()
    small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    assert torch.allclose(small, gain**2 * torch.eye(small.shape[0], dtype=w.dtype), atol=1e-5)
    assert torch.count_nonzero(layer.bias) == 0


def test_the_policy_starts_as_sb3s_mlp_policy():
    torch.manual_seed(0)
    module = module_of(RatingPPOConfig.from_spec(spec()))
    act_dim = get_task("cartpole-balance").act_dim
    # one state-independent log-std per action dimension, starting at 0 (SB3's log_std_init)
    assert torch.equal(module.pi.log_std.detach(), torch.zeros(act_dim))
    out = module.forward_inference({Columns.OBS: torch.randn(4, 5)})[Columns.ACTION_DIST_INPUTS]
    log_std = out[:, act_dim:]
    assert torch.equal(log_std, torch.zeros_like(log_std))  # the same in every state
    # SB3's ortho_init: gain √2 in the hidden layers, 0.01 on the mean, 1 on the value
    assert_orthogonal(linears(module.pi)[-1], PI_OUTPUT_GAIN)
    assert_orthogonal(linears(module.vf)[-1], VF_OUTPUT_GAIN)
    hidden = linears(module.encoder)
    assert len(hidden) == 2 * len(PPOSettings().hidden)  # separate pi and vf bodies
    for layer in hidden:
        assert_orthogonal(layer, HIDDEN_GAIN)


def test_rllibs_own_parameterisation_stays_reachable_for_ablations():
    module = module_of(RatingPPOConfig.from_spec(spec(free_log_std=False, init="torch")))
    assert not hasattr(module.pi, "log_std")
    assert linears(module.pi)[-1].out_features == 2 * get_task("cartpole-balance").act_dim
    assert torch.count_nonzero(linears(module.pi)[-1].bias) > 0  # torch's default init


def test_settings_the_spec_does_not_own_are_kept():
    config = RatingPPOConfig.from_spec(spec()).reporting(metrics_num_episodes_for_smoothing=7)
    assert config.for_trial().metrics_num_episodes_for_smoothing == 7
    assert as_rating_config(config.to_dict()).for_trial().metrics_num_episodes_for_smoothing == 7


@pytest.mark.parametrize(
    "change, setting, field",
    [
        (
            lambda c: c.rl_module(model_config=DefaultModelConfig(free_log_std=False)),
            "model_config",
            "free_log_std",
        ),
        (lambda c: c.training(lr=1e-3), "lr", "ppo.lr"),
        (lambda c: c.debugging(seed=5), "seed", "seed"),
    ],
)
def test_changing_a_spec_owned_setting_fails_loudly_before_any_work(change, setting, field):
    config = RatingPPOConfig.from_spec(spec())
    change(config)
    with pytest.raises(ValueError) as err:
        config.build_algo()
    message = str(err.value)
    assert f"'{setting}'" in message and field in message and "\n" not in message


def test_a_config_stored_before_the_spec_owned_a_setting_still_restores():
    # Tune keeps each trial's config in the experiment state; a campaign resumed
    # with newer code must accept one built when the sampler and CPUs were RLlib's.
    from rbrl_ray.rllib.ppo import OWNED_LATER, as_rating_config

    config = RatingPPOConfig.from_spec(spec())
    stored = config.to_dict()
    rllib_default = PPOConfig()
    for name in OWNED_LATER:
        stored[name] = getattr(rllib_default, name)
    restored = as_rating_config(stored).for_trial()
    assert restored.gym_env_vectorize_mode == "vector_entry_point"  # the spec applies
    assert RatingPPO.default_resource_request(restored).bundles == [{"CPU": 1.0}, {"CPU": 1.0}]
    stored["num_envs_per_env_runner"] = 3  # a setting owned from the start still fails
    with pytest.raises(ValueError, match="num_envs_per_env_runner"):
        as_rating_config(stored).for_trial()


def test_a_grid_varies_the_spec_and_each_trial_gets_its_own_settings():
    config = RatingPPOConfig.from_spec(spec(seed=0))
    other = spec(seed=3, lr=1e-4)
    config.learners(learner_config_dict={SPEC_KEY: other.model_dump(mode="json")})
    trial = as_rating_config(config.to_dict()).for_trial()  # as Tune hands it over
    assert spec_of(trial) == other
    assert trial.seed == 3 and trial.lr == 1e-4


def test_a_slow_rollout_is_waited_for_not_discarded():
    # RLlib's default (60 s) drops a slower sample and skips that update, so on a busy
    # machine learning depended on timing: same seed, different curve.
    assert RatingPPOConfig.from_spec(spec()).sample_timeout_s >= 3600


def test_a_gpu_learner_is_requested_from_rllib_and_tune():
    config = RatingPPOConfig.from_spec(spec(num_gpus_per_learner=1))
    assert config.num_gpus_per_learner == 1 and config.num_learners == 0
    # the learner lives in the trial's main process, so its bundle holds the GPU
    main, *_ = RatingPPO.default_resource_request(config).bundles
    assert main["GPU"] == 1
    cpu_only = RatingPPO.default_resource_request(RatingPPOConfig.from_spec(spec()))
    assert cpu_only.bundles[0].get("GPU", 0) == 0


def test_a_packed_trial_reserves_half_a_cpu_for_each_of_its_two_processes():
    packed = RatingPPO.default_resource_request(
        RatingPPOConfig.from_spec(spec(env_runner_cpus=0.5, learner_cpus=0.5))
    )
    assert packed.bundles == [{"CPU": 0.5}, {"CPU": 0.5}]  # trial process, EnvRunner
    default = RatingPPO.default_resource_request(RatingPPOConfig.from_spec(spec()))
    assert default.bundles == [{"CPU": 1.0}, {"CPU": 1.0}]


def test_a_trial_config_with_tunes_unresolved_placeholders_builds_from_its_spec():
    # Trials a restored Tune run makes can hold ("__ref_ph", id) where the param
    # space had a class or a function.
    from rbrl_ray.rllib.ppo import as_rating_config

    stored = RatingPPOConfig.from_spec(spec(seed=4)).to_dict()
    placeholder = ("__ref_ph", "e13bb6c8")
    for key, value in list(stored.items()):
        if isinstance(value, type) or callable(value):
            stored[key] = placeholder
        elif isinstance(value, dict) and any(isinstance(v, type) for v in value.values()):
            stored[key] = {k: placeholder for k in value}  # RLlib's stats_cls_lookup
    assert placeholder in stored.values() and placeholder in stored["stats_cls_lookup"].values()
    config = as_rating_config(stored).for_trial()
    assert config.seed == 4 and config.env_runner_cls is not None
    assert "mean" in config.stats_cls_lookup  # RLlib's own lookup, not an emptied one
    fresh = RatingPPOConfig.from_spec(spec(seed=4)).for_trial()
    for name in ("stats_cls_lookup", "callbacks_class", "learner_class", "env_runner_cls"):
        assert getattr(config, name) == getattr(fresh, name), name
    assert RatingPPO.default_resource_request(config).bundles == [{"CPU": 1.0}, {"CPU": 1.0}]


@pytest.mark.parametrize("kernel", ["fused", "foreach"])
def test_the_learners_adam_is_the_kernel_the_spec_names(kernel):
    task = get_task("cartpole-balance")
    obs = gym.spaces.Box(-np.inf, np.inf, (task.obs_dim,), np.float32)
    act = gym.spaces.Box(-1.0, 1.0, (task.act_dim,), np.float32)
    config = RatingPPOConfig.from_spec(spec(adam=kernel, hidden=(8,)))
    learner = config.build_learner(spaces={"default_policy": (obs, act)})
    ((_, optimizer),) = learner.get_optimizers_for_module("default_policy")
    assert isinstance(optimizer, torch.optim.Adam)
    assert bool(optimizer.defaults["fused"]) is (kernel == "fused")
    assert bool(optimizer.defaults["foreach"]) is (kernel == "foreach")
    assert optimizer.defaults["eps"] == 1e-5


def test_the_presets_use_validated_settings_and_an_unnamed_one_is_the_earlier_one():
    # foreach Adam has a learning record, fused none; the pooled filter merge is exact
    assert {p.adam for p in PPO_PRESETS.values()} == {"foreach"}
    assert {p.filter_merge for p in PPO_PRESETS.values()} == {"pooled"}
    assert ExperimentSpec(env="cartpole-balance", method="ppo").ppo.filter_merge == "pooled"
    # the paper preset's observation statistics stop after the exploration phase's 32k
    assert PPO_PRESETS["paper"].freeze_observation_stats_at == 32_000
    # specs written before these settings existed ran foreach Adam and RLlib's merge
    assert PPOSettings.model_validate({}).adam == "foreach"
    assert PPOSettings.model_validate({}).filter_merge == "rllib"


@pytest.mark.parametrize("update_loop", ["lean", "rllib"])
def test_the_learners_adam_has_the_specs_epsilon_on_either_update_loop(update_loop):
    task = get_task("cartpole-balance")
    obs = gym.spaces.Box(-np.inf, np.inf, (task.obs_dim,), np.float32)
    act = gym.spaces.Box(-1.0, 1.0, (task.act_dim,), np.float32)
    config = RatingPPOConfig.from_spec(spec(update_loop=update_loop, adam_eps=3e-6, hidden=(8,)))
    learner = config.build_learner(spaces={"default_policy": (obs, act)})
    assert isinstance(learner, LeanPPOTorchLearner) is (update_loop == "lean")
    ((_, optimizer),) = learner.get_optimizers_for_module("default_policy")
    assert optimizer.defaults["eps"] == 3e-6


def test_each_switch_picks_the_lean_piece_or_rllibs_own():
    lean = RatingPPOConfig.from_spec(spec())
    assert lean.learner_class is LeanRatingRewardLearner
    assert lean.env_runner_cls is LeanEnvRunner
    assert lean.gym_env_vectorize_mode == "vector_entry_point"
    stock = RatingPPOConfig.from_spec(
        spec(update_loop="rllib", sampler="rllib", env_runner_connectors="rllib")
    )
    assert stock.learner_class is RatingRewardLearner
    assert not issubclass(stock.learner_class, LeanPPOTorchLearner)
    assert stock.env_runner_cls is None  # RLlib's SingleAgentEnvRunner
    assert stock.gym_env_vectorize_mode == "sync"
    assert stock.add_default_connectors_to_module_to_env_pipeline


def test_a_learner_subclass_set_on_purpose_is_kept():
    class Mine(RatingRewardLearner):
        pass

    config = RatingPPOConfig.from_spec(spec()).learners(learner_class=Mine)
    assert config.for_trial().learner_class is Mine


def test_on_an_unproven_ray_version_the_lean_pieces_turn_off_with_one_warning(monkeypatch, caplog):
    import ray

    monkeypatch.setattr(ray, "__version__", "2.99.0")
    with caplog.at_level("WARNING", logger="rbrl_ray.rllib.lean_switches"):
        first = RatingPPOConfig.from_spec(spec())
        RatingPPOConfig.from_spec(spec(seed=1))
    assert first.learner_class is RatingRewardLearner
    assert first.env_runner_cls is None
    assert first.add_default_connectors_to_module_to_env_pipeline
    (line,) = [r.getMessage() for r in caplog.records]
    assert "proven on Ray 2.60.0, not 2.99.0" in line and "RLlib's own" in line
    p = effective_settings(PPOSettings(), version="2.60.0")
    assert (p.update_loop, p.sampler, p.env_runner_connectors) == ("lean",) * 3
