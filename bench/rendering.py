"""What showing segments to a person costs: rendering speed, the memory a segment's
physics states add, and the sampling time recording them takes.

    python -m bench.rendering [--envs cartpole-balance,walker-walk] [--segments 4]

For each env: scripted segments with physics states (reward_bench's behaviours),
each rendered to 240x320 frames from its states (frames/s of rendering alone) and
encoded to WebM (seconds per 50-step segment, both together); the bytes per rated
segment in a store file with and without states; and the sampling speed of this
project's vector env with and without recording them (16k steps of 8 envs, random
actions). Writes bench/results/rendering.{json,md}. Run it alone.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe_machine
from rbrl_ray.jsonio import write_json

HERE = Path(__file__).resolve().parent


def render_speed(env: str, count: int) -> dict[str, float]:
    from rbrl_ray.feedback.scripted import collect_segments
    from rbrl_ray.human.render import SegmentRenderer, write_webm

    segments = collect_segments(env, count, seed=0, physics_states=True)
    renderer = SegmentRenderer(env)
    renderer.frames(segments.states[0][:2])  # the GL context is made on first use
    frames_s = encode_s = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for i in range(count):
            t0 = time.perf_counter()
            frames = renderer.frames(segments.states[i])
            t1 = time.perf_counter()
            write_webm(frames, Path(folder) / f"{i}.webm")
            frames_s, encode_s = frames_s + t1 - t0, encode_s + time.perf_counter() - t1
    renderer.close()
    steps = count * segments.length
    return {
        "frames_per_s": steps / frames_s,
        "seconds_per_segment": (frames_s + encode_s) / count,
        "encode_seconds_per_segment": encode_s / count,
        "state_dim": int(segments.states.shape[-1]),
    }


def bytes_per_segment(env: str, count: int = 200) -> dict[str, float]:
    from rbrl_ray.feedback.scripted import collect_segments
    from rbrl_ray.feedback.segments import Segments

    with_states = collect_segments(env, count, seed=0, physics_states=True)
    without = Segments(with_states.obs, with_states.act, with_states.true_rewards)
    sizes = {}
    for name, segments in (("with_states", with_states), ("without_states", without)):
        buffer = io.BytesIO()
        arrays = {"obs": segments.obs, "act": segments.act, "rewards": segments.true_rewards}
        if segments.states is not None:
            arrays["states"] = segments.states
        np.savez(buffer, **arrays)
        sizes[name] = buffer.tell() / count
    return sizes


def sampling_speed(env: str, record: bool, steps: int = 16_000, envs: int = 8) -> float:
    from rbrl_ray.rllib.lean.vector_env import DmcVectorEnv

    vector = DmcVectorEnv(env, envs, record_states=record)
    vector.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(steps // envs, *vector.action_space.shape))
    start = time.perf_counter()
    for action in actions.astype(np.float32):
        vector.step(action)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default="cartpole-balance,walker-walk")
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    from rbrl_ray.human.gl_backend import enable_rendering

    enable_rendering()  # the backend the rating page would use here
    rows: dict[str, Any] = {}
    for env in args.envs.split(","):
        row = {**render_speed(env, args.segments), **bytes_per_segment(env)}
        plain, recorded = sampling_speed(env, False), sampling_speed(env, True)
        row.update(sampling_steps_per_s=plain, sampling_with_states_steps_per_s=recorded)
        rows[env] = row
        print(env, {k: round(v, 3) for k, v in row.items()}, flush=True)
    record = {"machine": describe_machine(), "gl": os.environ["MUJOCO_GL"], "envs": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "rendering.json", record)
    lines = [
        f"Rendering and physics states ({record['machine']['cpu']}, "
        f"{record['machine']['cores']} cores, MUJOCO_GL={record['gl']}: Mesa llvmpipe, 240x320; "
        "one rendering thread, llvmpipe rasterising on its own threads)",
        "",
        "| env | state dim | render frames/s | s per 50-step segment (render + WebM) "
        "| bytes/segment without → with states | sampling steps/s without → with states |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for env, r in rows.items():
        lines.append(
            f"| {env} | {r['state_dim']} | {r['frames_per_s']:.1f} | "
            f"{r['seconds_per_segment']:.2f} | {r['without_states']:,.0f} → "
            f"{r['with_states']:,.0f} | {r['sampling_steps_per_s']:,.0f} → "
            f"{r['sampling_with_states_steps_per_s']:,.0f} |"
        )
    (args.out / "rendering.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
