"""One throughput measurement, run in its own process by bench/throughput.py.

    python -m bench.throughput_runs KIND --env ENV --steps N [--preset P] [--classes C] [--seed S]
    python -m bench.throughput_runs sb3 --env ENV --steps N --ppo '{"envs_per_runner": 32}'

KIND is one of: raw (one dm_control env, random actions), sample (this project's
EnvRunner alone: vector env, connectors, policy inference), floor (the PPO update
alone in plain torch, bench/update_floor.py), sb3 (stable-baselines3 PPO, the
RbRL backbone), ppo and ours (this project's RatingPPO). Every learner
uses the same PPO settings, `PPO_PRESETS[preset]` (default: the paper's) with the
`--ppo` JSON object's fields in their place. The
last stdout line is `RESULT {json}` with the env steps done and the seconds taken.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rbrl_ray import metric_names as m
from rbrl_ray.experiment import PPOSettings

KINDS = ("raw", "sample", "floor", "sb3", "ppo", "ours", "ours_blocking")


def measure_raw(env: str, steps: int, seed: int) -> dict[str, Any]:
    """dm_control through shimmy, no wrappers of ours: the physics limit of one core."""
    import gymnasium as gym
    import shimmy  # noqa: F401  (registers the dm_control/ ids)

    from rbrl_ray.envs import get_task

    e = gym.make(get_task(env).gym_id)
    e.reset(seed=seed)
    e.action_space.seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = e.step(e.action_space.sample())
        if terminated or truncated:
            e.reset()
    return {"steps": steps, "seconds": time.perf_counter() - start}


def _spec(
    env: str, method: str, classes: int | None, steps: int, seed: int, p: PPOSettings, **extra: Any
):
    from rbrl_ray.experiment import ExperimentSpec

    return ExperimentSpec(
        env=env,
        method=method,
        classes=classes,
        seed=seed,
        timesteps=steps,
        ppo=p,
        evaluation={"episodes": 0},  # training throughput: SB3's side evaluates nothing
        **extra,
    )


def measure_sample(env: str, steps: int, seed: int, p: PPOSettings) -> dict[str, Any]:
    """This project's EnvRunner in this process: what one sampling core does per second."""
    import tempfile

    import torch
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    from rbrl_ray.rllib.ppo import RatingPPOConfig

    torch.set_num_threads(1)  # as in a 1-CPU EnvRunner actor, where Ray sets OMP_NUM_THREADS=1
    spec = _spec(env, "ppo", None, steps, seed, p)
    config = RatingPPOConfig.from_spec(spec, rating_dir=Path(tempfile.mkdtemp()))
    config.env_runners(num_env_runners=0)
    runner = SingleAgentEnvRunner(config=config)
    runner.sample(num_timesteps=spec.ppo.envs_per_runner * 10)  # warm-up: env and module built
    done, start = 0, time.perf_counter()
    while done < steps:
        episodes = runner.sample(num_timesteps=min(steps - done, spec.ppo.train_batch_size))
        done += sum(len(e) for e in episodes)
    return {"steps": done, "seconds": time.perf_counter() - start}


def measure_floor(env: str, steps: int, p: PPOSettings) -> dict[str, Any]:
    """The update's torch-only floor over as many rollouts as `steps` env steps make."""
    from bench.update_floor import measure_update_floor

    return measure_update_floor(env, p, max(1, steps // p.train_batch_size))


def measure_sb3(env: str, steps: int, seed: int, p: PPOSettings) -> dict[str, Any]:
    """SB3 PPO with the same rollout size, minibatch, epochs, nets and obs normalisation."""
    import torch

    from bench.sb3_baseline import sb3_ppo

    model = sb3_ppo(env, seed, p)
    start, started_at = time.perf_counter(), time.time()
    model.learn(total_timesteps=steps)
    return {
        "steps": int(model.num_timesteps),
        "seconds": time.perf_counter() - start,
        "start": started_at,  # wall clock, for runs packed side by side (bench/packed.py)
        "end": time.time(),
        "torch_threads": torch.get_num_threads(),
    }


def measure_rating_ppo(
    env: str, steps: int, seed: int, p: PPOSettings, method: str, classes: int | None, **extra: Any
) -> dict[str, Any]:
    """RatingPPO on in-process Ray: wall time of the training iterations, split by phase."""
    import tempfile

    import ray
    import torch

    from rbrl_ray.rllib.ppo import RatingPPOConfig

    spec = _spec(env, method, classes, steps, seed, p, **extra)
    threads = torch.get_num_threads()  # the learner's: it runs in this (the driver) process
    ray.init(include_dashboard=False, log_to_driver=False)
    algo = RatingPPOConfig.from_spec(spec, rating_dir=Path(tempfile.mkdtemp())).build_algo()
    done, fit_seconds, version, iterations = 0, 0.0, 0, []
    start = time.perf_counter()
    while done < steps:
        t0 = time.perf_counter()
        result = algo.train()
        iterations.append(time.perf_counter() - t0)
        done = int(m.under_env_runners(result, m.STEPS_KEY))
        if result.get(m.RM_VERSION, 0) != version:  # a fit ran after this iteration
            version = result[m.RM_VERSION]
            fit_seconds += result[m.RM_FIT_SECONDS]
    seconds = time.perf_counter() - start
    learner = result["learners"]["__all_modules__"]["learner_connector"]["timers"]["connectors"]
    algo.stop()
    ray.shutdown()
    return {
        "steps": done,
        "seconds": seconds,
        "iteration_seconds": iterations,
        "fit_seconds": fit_seconds,
        "relabel_seconds_per_update": learner.get("reward_relabeller"),
        "ratings": int(result.get(m.NUM_RATINGS, 0)),
        "torch_threads": threads,
    }


def _background():
    from rbrl_ray.experiment import RatingSchedule

    return RatingSchedule(background_fit=True)


def ppo_settings(preset: str, overrides: str | None) -> PPOSettings:
    """The preset's PPO settings with the fields of the JSON object `overrides`."""
    from rbrl_ray.experiment import PPO_PRESETS

    return PPOSettings.model_validate(
        {**PPO_PRESETS[preset].model_dump(), **json.loads(overrides or "{}")}
    )


def run(kind: str, env: str, steps: int, seed: int, p: PPOSettings, classes: int) -> dict[str, Any]:
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "raw": lambda: measure_raw(env, steps, seed),
        "floor": lambda: measure_floor(env, steps, p),
        "sample": lambda: measure_sample(env, steps, seed, p),
        "sb3": lambda: measure_sb3(env, steps, seed, p),
        "ppo": lambda: measure_rating_ppo(env, steps, seed, p, "ppo", None),
        # As the paper grid runs it (tune_configs/paper.yaml): the rating service has a
        # CPU of its own and fits the reward model while the next iteration trains.
        "ours": lambda: measure_rating_ppo(
            env, steps, seed, p, "ours", classes, service_cpus=1.0, schedule=_background()
        ),
        # The paper's order of work: each fit blocks training until it is done.
        "ours_blocking": lambda: measure_rating_ppo(env, steps, seed, p, "ours", classes),
    }
    return runners[kind]()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--env", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--ppo", help="JSON object of PPO settings replacing the preset's")
    args = parser.parse_args()
    settings = ppo_settings(args.preset, args.ppo)
    out = run(args.kind, args.env, args.steps, args.seed, settings, args.classes)
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
