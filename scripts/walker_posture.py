"""How walker-walk policies walk: speed, torso height and the true reward's two factors.

    python scripts/walker_posture.py results/campaign_v2/policies/walker-walk_* \
        [--episodes 20] [--figure results/campaign_v2/walker_posture.png]

walker-walk's true reward per step is stand × (5 · move + 1) / 6 (dm_control's
`walker.py`): `stand` asks for the torso at 1.2 m or higher and upright, `move` for a
horizontal speed of 1 m/s or more. A policy can earn half the reward by running fast
with its torso low. Each policy (a checkpoint, or the frozen policies committed under
results/campaign_v2/policies/) runs whole episodes with its mean action, as in the
trials' evaluations; the script prints one markdown row per policy: the mean return,
the episodes that fell (return below 100), the mean speed, torso height and
uprightness, and the mean of each factor. The figure shows each policy's posture: its
first episode at step 500.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FALLEN = 100.0  # an episode's return below this: the walker fell and stayed down
FRAME_STEP = 500  # the step the figure shows


@dataclass
class Gait:
    """Per-step quantities of one episode, from its physics states."""

    speed: np.ndarray
    height: np.ndarray
    upright: np.ndarray
    stand: np.ndarray
    move: np.ndarray

    @property
    def reward(self) -> np.ndarray:
        return self.stand * (5 * self.move + 1) / 6  # dm_control walker.py, PlanarWalker


def gait(physics, states: np.ndarray) -> Gait:
    """The walker's speed, torso height, uprightness and reward factors in each state
    after a step (states[1:]), as dm_control's walker task computes them."""
    from dm_control.suite import walker
    from dm_control.utils import rewards

    rows = []
    for state in states[1:]:
        with physics.reset_context():
            physics.set_state(state)
        rows.append(
            (physics.horizontal_velocity(), physics.torso_height(), physics.torso_upright())
        )
    speed, height, upright = np.asarray(rows).T
    standing = rewards.tolerance(height, bounds=(walker._STAND_HEIGHT, float("inf")),
                                 margin=walker._STAND_HEIGHT / 2)  # fmt: skip
    stand = (3 * standing + (1 + upright) / 2) / 4
    move = rewards.tolerance(speed, bounds=(walker._WALK_SPEED, float("inf")),
                             margin=walker._WALK_SPEED / 2, value_at_margin=0.5,
                             sigmoid="linear")  # fmt: skip
    return Gait(speed, height, upright, stand, move)


def row(name: str, returns: list[float], gaits: list[Gait]) -> str:
    def mean(field: str) -> float:
        return float(np.mean([getattr(g, field).mean() for g in gaits]))

    fell = sum(r < FALLEN for r in returns)
    return (
        f"| {name} | {np.mean(returns):.1f} | {fell} of {len(returns)} | {mean('speed'):.2f} "
        f"| {mean('height'):.2f} | {mean('upright'):.2f} | {mean('stand'):.2f} "
        f"| {mean('move'):.2f} |"
    )


def figure(frames: dict[str, np.ndarray], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(frames), figsize=(2.6 * len(frames), 2.6), squeeze=False)
    for ax, (name, frame) in zip(axes[0], frames.items(), strict=True):
        ax.imshow(frame)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.suptitle(f"walker-walk: each policy's first episode at step {FRAME_STEP}", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("policies", type=Path, nargs="+", help="checkpoint folders")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1000, help="of the first episode")
    parser.add_argument("--figure", type=Path, help="a PNG of each policy's posture")
    args = parser.parse_args()
    from rbrl_ray.human.gl_backend import enable_rendering

    enable_rendering()  # before dm_control's import
    from rbrl_ray.envs import make_env
    from rbrl_ray.human.frozen_policy import FrozenPolicy, find_checkpoint
    from rbrl_ray.human.render import SegmentRenderer

    env = make_env({"env": "walker-walk", "record_states": True})
    renderer = SegmentRenderer("walker-walk")
    print("| policy | mean return | fell | speed (m/s) | torso height (m) | upright | stand "
          "| move |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    frames = {}
    for path in args.policies:
        policy = FrozenPolicy(find_checkpoint(path))
        episodes = [policy.episode(env, args.seed + i) for i in range(args.episodes)]
        gaits = [gait(renderer.physics, e.states) for e in episodes]
        for e, g in zip(episodes, gaits, strict=True):  # the factors are the env's reward
            if not np.allclose(g.reward, e.rewards, atol=1e-4):
                raise SystemExit(f"{path}: stand x move differs from the env's reward")
        returns = [e.true_return for e in episodes]
        print(row(path.name, returns, gaits), flush=True)
        first = gaits[0]
        frames[
            f"{path.name}\nreturn {returns[0]:.0f}, {first.speed.mean():.1f} m/s, "
            f"torso {first.height.mean():.2f} m"
        ] = renderer.frames(episodes[0].states[FRAME_STEP : FRAME_STEP + 1])[0]
    renderer.close()
    if args.figure is not None:
        figure(frames, args.figure)
        print(f"\nfigure: {args.figure}")


if __name__ == "__main__":
    main()
