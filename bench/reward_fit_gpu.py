"""What a reward-model fit costs on CPU and on a GPU, and with several services
sharing one GPU: torch only (no Ray, no MuJoCo), for any machine with CUDA.

    python -m bench.reward_fit_gpu [--envs cartpole-balance,walker-walk] [--ratings 2000]
        [--epochs 100] [--sharing 1,2,4] [--out bench/results]

Each fit is the rating service's (`RewardTrainer.fit`, method `ours`, RbRL's 3×256
ensemble of 3, minibatch 128) over `--ratings` rated 50-step segments of the env's
observation and action sizes, for exactly `--epochs` epochs (random labels and
target_accuracy 1.0: no early stop). CPU: one thread (a rating service's default
share). GPU (reward_model.device cuda, members batched): alone, then `--sharing` K
processes fitting at once on the one GPU, each reporting its own fit time (what K
services with service_gpus 1/K see). Writes reward_fit_gpu.{json,md} to --out.
Run it alone on the machine. Needs torch, numpy, pydantic, gymnasium and psutil
(`pip install -e .` is more than enough; Ray and MuJoCo are not imported).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine  # noqa: E402
from rbrl_ray.envs import get_task  # noqa: E402
from rbrl_ray.feedback.segments import Segments  # noqa: E402
from rbrl_ray.jsonio import write_json  # noqa: E402
from rbrl_ray.reward.config import RewardModelConfig  # noqa: E402
from rbrl_ray.reward.trainer import RewardTrainer  # noqa: E402

HERE = Path(__file__).resolve().parent


def ratings(env: str, count: int, seed: int = 0) -> tuple[Segments, np.ndarray]:
    task, rng = get_task(env), np.random.default_rng(seed)
    obs = rng.normal(size=(count, 50, task.obs_dim)).astype(np.float32)
    act = rng.uniform(-1, 1, size=(count, 50, task.act_dim)).astype(np.float32)
    return Segments(obs, act, np.zeros((count, 50), np.float32)), rng.integers(0, 3, count)


def fit_seconds(env: str, count: int, epochs: int, device: str) -> float:
    segments, labels = ratings(env, count)
    config = RewardModelConfig(max_epochs=epochs, target_accuracy=1.0, device=device)
    task = get_task(env)
    trainer = RewardTrainer(task.obs_dim, task.act_dim, 3, "ours", config, seed=0)
    if device == "cuda":
        trainer.fit(segments.take(slice(0, 256)), labels[:256])  # CUDA context, kernels
        torch.cuda.synchronize()
    started = time.perf_counter()
    trainer.fit(segments, labels)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def _shared_fit(args: tuple[str, int, int, Any]) -> float:
    env, count, epochs, barrier = args
    torch.set_num_threads(1)
    fit_seconds(env, min(count, 256), 1, "cuda")  # warm up before the others start
    barrier.wait()
    return fit_seconds(env, count, epochs, "cuda")


def shared(env: str, count: int, epochs: int, processes: int) -> list[float]:
    """Each process's fit time with `processes` fitting on the GPU at once."""
    context = mp.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(processes)
        with context.Pool(processes) as pool:
            return pool.map(_shared_fit, [(env, count, epochs, barrier)] * processes)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", default="cartpole-balance,walker-walk")
    p.add_argument("--ratings", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--sharing", default="1,2,4")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args()
    gpu = torch.cuda.is_available()
    record: dict[str, Any] = {
        "machine": describe_machine(),
        "gpu": torch.cuda.get_device_name(0) if gpu else None,
        "ratings": args.ratings,
        "epochs": args.epochs,
        "envs": {},
    }
    for env in args.envs.split(","):
        torch.set_num_threads(1)
        row: dict[str, Any] = {"cpu_1_thread_s": fit_seconds(env, args.ratings, args.epochs, "cpu")}
        if gpu:
            row["gpu_alone_s"] = fit_seconds(env, args.ratings, args.epochs, "cuda")
            row["gpu_shared_s"] = {
                k: shared(env, args.ratings, args.epochs, int(k)) for k in args.sharing.split(",")
            }
        record["envs"][env] = row
        print(env, row, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "reward_fit_gpu.json", record)
    (args.out / "reward_fit_gpu.md").write_text(markdown(record))


def markdown(record: dict[str, Any]) -> str:
    head = (f"Reward-model fit, {record['epochs']} epochs over {record['ratings']:,} ratings "
            f"(method ours, 3×256 ensemble of 3): {record['machine']['cpu']}, "
            f"GPU {record['gpu'] or 'none'}\n\n")  # fmt: skip
    lines = ["| env | CPU, 1 thread (s) | GPU alone (s) | GPU shared by K: each fit (s) |",
             "|---|---:|---:|---|"]  # fmt: skip
    for env, row in record["envs"].items():
        shared_text = "; ".join(
            f"K={k}: " + ", ".join(f"{s:.1f}" for s in times)
            for k, times in row.get("gpu_shared_s", {}).items()
        )
        alone = f"{row['gpu_alone_s']:.1f}" if "gpu_alone_s" in row else "–"
        lines.append(f"| {env} | {row['cpu_1_thread_s']:.1f} | {alone} | {shared_text or '–'} |")
    return head + "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
