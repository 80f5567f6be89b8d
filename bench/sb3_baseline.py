"""stable-baselines3 PPO set up as this project's PPO settings say: the RbRL backbone.

Same rollout (envs × steps per env), minibatch, epochs, learning rate, clip, γ,
λ, entropy and value coefficients, grad-norm clip, separate pi/vf nets of the
same size and activation, observation normalisation (VecNormalize, as our
MeanStdFilter) and the same env creator. SB3's own defaults supply the rest:
a state-independent log-std starting at 0, orthogonal initialisation, Adam
with epsilon 1e-5, advantages normalised per minibatch, no gSDE.

`sb3_rbrl_ppo` is instead SB3 PPO as the public RbRL code runs it
(Dev1nW/Rating-based-Reinforcement-Learning, train_PPO.py and
scripts/walker_walk/run_ppo.sh), the paper's PPO as it was run: gSDE on (its
`--use-sde 1` default, a new noise matrix every 4 steps), the clip range decaying
linearly from 0.4 to 0 over the run's 4M steps, VecNormalize(norm_reward=False),
and the walker script's rollout (32 envs x 500 steps), minibatch 64, λ 0.92,
lr 5e-5, 20 epochs, 3x256 nets. RbRL has no cartpole script: the walker settings
stand in for it.
"""

from __future__ import annotations

from typing import Any

from rbrl_ray.envs import make_env
from rbrl_ray.experiment import PPOSettings


def normalised_ppo(env: str, seed: int, n_envs: int, **ppo: Any) -> Any:
    """SB3's `PPO("MlpPolicy")` on `n_envs` copies of `env` behind VecNormalize (RbRL's
    `VecNormalize(env, norm_reward=False)`), on the CPU, with the PPO arguments `ppo`."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    vec = make_vec_env(lambda: make_env({"env": env}), n_envs=n_envs, seed=seed)
    vec = VecNormalize(vec, norm_obs=True, norm_reward=False)
    return PPO("MlpPolicy", vec, seed=seed, device="cpu", verbose=0, **ppo)


def sb3_ppo(env: str, seed: int, p: PPOSettings, **kwargs: Any) -> Any:
    """An SB3 `PPO("MlpPolicy")` on `env` with the settings of `p`."""
    import torch

    return normalised_ppo(
        env,
        seed,
        p.envs_per_runner,
        n_steps=p.train_batch_size // p.envs_per_runner,
        batch_size=p.minibatch_size,
        n_epochs=p.num_epochs,
        learning_rate=p.lr,
        clip_range=p.clip_param,
        gamma=p.gamma,
        gae_lambda=p.lambda_,
        ent_coef=p.entropy_coeff,
        vf_coef=p.vf_loss_coeff,
        max_grad_norm=p.grad_clip,
        policy_kwargs={
            "net_arch": {"pi": list(p.hidden), "vf": list(p.hidden)},
            "activation_fn": {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[p.activation],
        },
        **kwargs,
    )


#: The RbRL scripts' settings (scripts/walker_walk/run_ppo.sh, train_PPO.py defaults).
RBRL_PPO = {
    "n_envs": 32,
    "n_steps": 500,
    "batch_size": 64,
    "gae_lambda": 0.92,
    "learning_rate": 5e-5,
    "n_epochs": 20,
    "clip_init": 0.4,
    "sde_sample_freq": 4,
    "hidden": [256, 256, 256],
    "run_steps": 4_000_000,
}


def rbrl_clip_range(initial: float, learn_steps: int, run_steps: int) -> Any:
    """RbRL's linear clip schedule, `progress_remaining * initial` over a run of
    `run_steps`, for a `learn(learn_steps)` that covers only the start of that run."""

    def clip(progress_remaining: float) -> float:
        steps_done = (1.0 - progress_remaining) * learn_steps
        return initial * max(0.0, 1.0 - steps_done / run_steps)

    return clip


def sb3_rbrl_ppo(env: str, seed: int, learn_steps: int) -> Any:
    """SB3 PPO with the RbRL code's own settings (RBRL_PPO), for `learn(learn_steps)`."""
    r = RBRL_PPO
    return normalised_ppo(
        env,
        seed,
        r["n_envs"],
        n_steps=r["n_steps"],
        batch_size=r["batch_size"],
        n_epochs=r["n_epochs"],
        learning_rate=r["learning_rate"],
        clip_range=rbrl_clip_range(r["clip_init"], learn_steps, r["run_steps"]),
        gae_lambda=r["gae_lambda"],
        ent_coef=0.0,
        use_sde=True,
        sde_sample_freq=r["sde_sample_freq"],
        policy_kwargs={"net_arch": {"pi": r["hidden"], "vf": r["hidden"]}},
    )
