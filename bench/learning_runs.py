"""One learning run, in its own process, for bench/learning.py.

    python -m bench.learning_runs KIND --env ENV --steps N --seed S [--ppo JSON] [--classes C]

KIND: ppo (this project's RatingPPO on the env reward), sb3 (stable-baselines3 PPO
with the same settings), sb3_rbrl (SB3 PPO with the RbRL code's own settings: gSDE,
decaying clip range; bench/sb3_baseline.py) or ours (RatingPPO learning from 3-class ratings, the
paper's schedule). Prints one `POINT {json}` line per iteration (env steps, mean
true return of the episodes that ended in it) and a last `RESULT {json}` line.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from rbrl_ray import metric_names as m
from rbrl_ray.envs import EPISODE_LENGTH
from rbrl_ray.experiment import ExperimentSpec, PPOSettings

KINDS = ("ppo", "sb3", "sb3_rbrl", "ours")


def emit(tag: str, payload: dict[str, Any]) -> None:
    print(f"{tag} {json.dumps(payload)}", flush=True)


def run_rllib(
    env: str, steps: int, seed: int, p: PPOSettings, method: str, classes: int | None
) -> dict[str, Any]:
    import ray

    from rbrl_ray.rllib.ppo import RatingPPOConfig

    # the curve is of training returns, as the SB3 side records it: no evaluation runs
    spec = ExperimentSpec(
        env=env,
        method=method,
        classes=classes,
        seed=seed,
        timesteps=steps,
        ppo=p,
        evaluation={"episodes": 0},
    )
    ray.init(include_dashboard=False, log_to_driver=False)
    config = RatingPPOConfig.from_spec(spec, rating_dir=Path(tempfile.mkdtemp()))
    # DMC episodes all last 1000 steps: a window of one iteration's episodes makes the
    # reported return that iteration's mean, as the SB3 side records it.
    config.reporting(metrics_num_episodes_for_smoothing=p.train_batch_size // EPISODE_LENGTH)
    algo = config.build_algo()
    done, start = 0, time.perf_counter()
    while done < steps:
        result = algo.train()
        done = int(m.under_env_runners(result, m.STEPS_KEY))
        value = m.under_env_runners(result, m.RETURN_KEY)
        # no episode ended in this iteration: RLlib reports NaN, strict JSON has null
        point = {"steps": done, "return": None if value is None or math.isnan(value) else value}
        if m.PEARSON_TRUE in result:
            point["pearson_true"] = result[m.PEARSON_TRUE]
        emit("POINT", point)
    seconds = time.perf_counter() - start
    algo.stop()
    ray.shutdown()
    return {"steps": done, "seconds": seconds}


def run_sb3(env: str, steps: int, seed: int, p: PPOSettings, rbrl: bool) -> dict[str, Any]:
    from stable_baselines3.common.callbacks import BaseCallback

    from bench.sb3_baseline import sb3_ppo, sb3_rbrl_ppo

    class IterationReturns(BaseCallback):
        """The mean return of the episodes that ended in each rollout."""

        def __init__(self) -> None:
            super().__init__()
            self.returns: list[float] = []

        def _on_step(self) -> bool:
            self.returns += [i["episode"]["r"] for i in self.locals["infos"] if "episode" in i]
            return True

        def _on_rollout_end(self) -> None:
            mean = sum(self.returns) / len(self.returns) if self.returns else None
            emit("POINT", {"steps": int(self.num_timesteps), "return": mean})
            self.returns = []

    model = sb3_rbrl_ppo(env, seed, steps) if rbrl else sb3_ppo(env, seed, p)
    start = time.perf_counter()
    model.learn(total_timesteps=steps, callback=IterationReturns())
    return {"steps": int(model.num_timesteps), "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--env", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ppo", default="{}", help="PPOSettings as JSON")
    parser.add_argument("--classes", type=int, default=3)
    args = parser.parse_args()
    p = PPOSettings.model_validate_json(args.ppo)
    if args.kind in ("sb3", "sb3_rbrl"):
        out = run_sb3(args.env, args.steps, args.seed, p, rbrl=args.kind == "sb3_rbrl")
    elif args.kind == "ppo":
        out = run_rllib(args.env, args.steps, args.seed, p, "ppo", None)
    else:
        out = run_rllib(args.env, args.steps, args.seed, p, "ours", args.classes)
    emit("RESULT", out)


if __name__ == "__main__":
    main()
