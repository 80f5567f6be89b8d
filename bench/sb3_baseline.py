"""stable-baselines3 PPO set up as this project's PPO settings say: the RbRL backbone.

Same rollout (envs × steps per env), minibatch, epochs, learning rate, clip, γ,
λ, entropy and value coefficients, grad-norm clip, separate pi/vf nets of the
same size and activation, observation normalisation (VecNormalize, as our
MeanStdFilter) and the same env creator. SB3's own defaults supply the rest:
a state-independent log-std starting at 0, orthogonal initialisation, Adam
with epsilon 1e-5, advantages normalised per minibatch, no gSDE.
"""

from __future__ import annotations

from typing import Any

from rbrl_ray.envs import make_env
from rbrl_ray.experiment import PPOSettings


def sb3_ppo(env: str, seed: int, p: PPOSettings, **kwargs: Any) -> Any:
    """An SB3 `PPO("MlpPolicy")` on `env` with the settings of `p`."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    vec = make_vec_env(lambda: make_env({"env": env}), n_envs=p.envs_per_runner, seed=seed)
    vec = VecNormalize(vec, norm_obs=True, norm_reward=False)  # as our MeanStdFilter
    return PPO(
        "MlpPolicy",
        vec,
        seed=seed,
        device="cpu",
        verbose=0,
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
