"""Watch what an agent learned: episodes of a trained policy as one video.

    python -m rbrl_ray.play TRIAL_OR_CHECKPOINT [--episodes 3] [--out video.webm]

Runs whole episodes of the frozen policy of a checkpoint (a `train --out` folder, a
sweep's trial folder -- its newest checkpoint -- or a checkpoint folder), with the
observation filter it was trained with, on the true environment; prints each
episode's true return; renders every step through the rating page's renderer
(the task's camera, 240x320) into one WebM video. By default the video goes to
the trial folder's play/<checkpoint>.webm, where `python -m rbrl_ray.report` finds
and links it. The policy's mean action is taken, as in the trial's evaluations;
--explore samples instead. Nothing in the trial or checkpoint is changed.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rbrl_ray.cli import OneLineParser, UsageError, int_in_range

PROG = "rbrl_ray.play"
PLAY_DIR = "play"  # beside a trial's checkpoints: the videos the report links
CHUNK = 100  # frames rendered between progress updates


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path, help="a trial folder or a checkpoint folder")
    p.add_argument("--episodes", type=int_in_range("episodes", 1, 100), default=3)
    p.add_argument("--out", type=Path, help="the video (.webm; default TRIAL/play/CHECKPOINT.webm)")
    p.add_argument("--seed", type=int_in_range("seed", 0), default=0, help="of the first episode")
    p.add_argument("--steps", type=int_in_range("steps", 1), help="cut each episode after N steps")
    p.add_argument("--explore", action="store_true", help="sample actions, not the mean")
    return p


def default_video(checkpoint: Path) -> Path:
    """TRIAL/play/<checkpoint name>.webm, TRIAL the folder holding the checkpoint."""
    return checkpoint.parent / PLAY_DIR / f"{checkpoint.name}.webm"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.out is not None and args.out.suffix != ".webm":
        raise UsageError(f"--out {args.out}: the video is WebM; give a .webm path")
    from rbrl_ray.human.frozen_policy import find_checkpoint
    from rbrl_ray.human.gl_backend import enable_rendering

    checkpoint = find_checkpoint(args.source)
    backend = enable_rendering()  # before dm_control's import; none: one line, exit 2
    out = args.out or default_video(checkpoint)
    frames, returns = play(checkpoint, args.episodes, args.seed, args.explore, args.steps)
    from rbrl_ray.human.render import write_webm

    write_webm(frames, out)
    print(f"{len(frames)} frames ({backend}) -> {out}; true return per episode: "
          + ", ".join(f"{r:.1f}" for r in returns) + f" (mean {np.mean(returns):.1f})")  # fmt: skip
    return 0


def play(
    checkpoint: Path, episodes: int, seed: int, explore: bool, steps: int | None
) -> tuple[np.ndarray, list[float]]:
    """The frames of `episodes` episodes of the checkpoint's policy, and their returns."""
    from rbrl_ray.envs import make_env, task_of_observations
    from rbrl_ray.human.frozen_policy import FrozenPolicy
    from rbrl_ray.human.render import SegmentRenderer

    policy = FrozenPolicy(checkpoint)
    env_name = task_of_observations(policy.obs_dim)
    env = make_env({"env": env_name, "record_states": True})
    renderer = SegmentRenderer(env_name)
    parts, returns = [], []
    try:
        for i in range(episodes):
            episode = policy.episode(env, seed + i, explore, steps)
            returns.append(episode.true_return)
            print(f"{env_name} episode {i + 1}: true return {episode.true_return:.1f} "
                  f"over {len(episode.states) - 1} steps", flush=True)  # fmt: skip
            parts.append(render(renderer, episode.states, f"rendering episode {i + 1}"))
    finally:
        renderer.close()
        env.close()
    return np.concatenate(parts), returns


def render(renderer, states: np.ndarray, what: str) -> np.ndarray:
    """Frames of `states`, with a progress bar and the time per frame at the end."""
    started, chunks = time.perf_counter(), []
    with tqdm(total=len(states), desc=what, unit="frame") as bar:
        for start in range(0, len(states), CHUNK):
            chunks.append(renderer.frames(states[start : start + CHUNK]))
            bar.update(len(chunks[-1]))
    frames = np.concatenate(chunks)
    per_frame = (time.perf_counter() - started) / len(frames)
    print(f"  {len(frames)} frames, {per_frame * 1000:.0f} ms a frame", flush=True)
    return frames


if __name__ == "__main__":
    from rbrl_ray.cli import run_main

    run_main(main, PROG)
