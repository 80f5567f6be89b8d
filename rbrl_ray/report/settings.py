"""Where every setting of a campaign comes from: its value in the records, and its
source (the paper's text, the public RbRL code, stable-baselines3's defaults, or this
project's choice, with the reason).

One table for RESULTS.md and docs/methods.md (a test keeps the doc's copy, built from
the paper preset, in step with this one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.feedback.segments import SEGMENT_LENGTH

RBRL = "Dev1nW/Rating-based-Reinforcement-Learning"


@dataclass(frozen=True)
class Setting:
    label: str
    value: Callable[[ExperimentSpec], str]
    source: str
    any_value: bool = False  # the source names where each value comes from


def _nets(s: ExperimentSpec) -> str:
    h = s.ppo.hidden
    shape = f"{len(h)} × {h[0]}" if len(set(h)) == 1 else " × ".join(map(str, h))
    return f"{shape} each, {s.ppo.activation}"


def _rollout(s: ExperimentSpec) -> str:
    envs = max(s.ppo.num_env_runners, 1) * s.ppo.envs_per_runner
    per_env = s.ppo.train_batch_size // envs
    return f"{s.ppo.train_batch_size:,} env steps ({envs} envs × {per_env:,})"


def _sb3_defaults(s: ExperimentSpec) -> str:
    p = s.ppo
    log_std = "state-independent log-std" if p.free_log_std else "log-std per state"
    return f"{p.vf_loss_coeff:g}, {p.grad_clip:g}, {p.adam_eps:g}, {p.init} init, {log_std}"


def _rllib_extras(s: ExperimentSpec) -> str:
    kl = "on" if s.ppo.use_kl_loss else "off"
    clip = "none" if s.ppo.vf_clip_param is None else f"{s.ppo.vf_clip_param:g}"
    return f"KL penalty {kl}, value clip {clip}"


def _schedule(s: ExperimentSpec) -> str:
    q = s.schedule
    return f"{q.explore_steps:,} steps of exploration, then {q.per_query} every {q.every:,}"


def _fits(s: ExperimentSpec) -> str:
    q = s.schedule
    if not q.background_fit:
        return "blocking, in the training loop"
    return "in the background" + (", the first blocking" if q.first_fit_blocks else "")


def _reward_model(s: ExperimentSpec) -> str:
    r = s.reward_model
    return (
        f"{r.members} × ({r.layers} × {r.hidden}) LeakyReLU ensemble, Adam {r.lr:g}, minibatch "
        f"{r.batch_size}, ≤ {r.max_epochs} epochs to {r.target_accuracy:.0%} accuracy"
    )


def _evaluation(s: ExperimentSpec) -> str:
    e = s.evaluation
    action = "exploring" if e.explore else "mean action"
    when = f"every {e.every} iterations" if e.every else "at the end only"
    return f"{when}, {e.episodes} episodes, {action}"


SETTINGS: tuple[Setting, ...] = (
    Setting("learning rate", lambda s: f"{s.ppo.lr:g}", "paper, Appendix A; RbRL scripts"),
    Setting("clip range", lambda s: f"{s.ppo.clip_param:g}, constant",
            "paper, Appendix A (RbRL decays it linearly from 0.4 to 0)"),
    Setting("policy and value nets", _nets,
            "paper, Appendix A (3 × 256); RbRL `--num-layer 3 --hidden-dim 256`; tanh: "
            "SB3's MlpPolicy"),
    Setting("γ", lambda s: f"{s.ppo.gamma:g}", "SB3 default (neither the paper nor RbRL sets it)"),
    Setting("GAE λ", lambda s: f"{s.ppo.lambda_:g}",
            "RbRL `train_PPO.py` default and walker script (quadruped: 0.9)"),
    Setting("epochs per rollout", lambda s: str(s.ppo.num_epochs),
            "RbRL `train_PPO.py` default"),
    Setting("minibatch", lambda s: str(s.ppo.minibatch_size),
            "RbRL's quadruped script (walker: 64); one value for all envs: ours"),
    Setting("entropy coefficient", lambda s: f"{s.ppo.entropy_coeff:g}",
            "RbRL scripts (`--ent-coef 0.0`)"),
    Setting("rollout", _rollout,
            "RbRL walker script's 32 × 500 steps; 8 × 2,000 learned cartpole better in 300k "
            "(BENCHMARKS.md): ours"),
    Setting("value-loss weight, grad clip, Adam ε, init, log-std", _sb3_defaults,
            "SB3 defaults (orthogonal: SB3's gains)"),
    Setting("RLlib's KL penalty and value-loss clip", _rllib_extras,
            "SB3's PPO has neither; RLlib's defaults add both (BENCHMARKS.md, \"Learning "
            "parity\")"),
    Setting("observation normalisation", lambda s: s.ppo.observation_normalisation,
            "RbRL: `VecNormalize(norm_reward=False)`, never frozen; freezing: ours, on "
            "evidence (BENCHMARKS.md, \"Observation normalisation\")"),
    Setting("Adam kernel", lambda s: s.ppo.adam, "ours: the kernel with a learning record"),
    Setting("evaluation of the frozen policy", _evaluation,
            "ours (the paper reports training curves)"),
    Setting("ratings", lambda s: f"{s.schedule.total:,} of {SEGMENT_LENGTH}-step segments",
            "paper, experiment setup (\"during the early stage of the training process\")"),
    Setting("rating schedule", _schedule,
            "ours: the paper says only \"during the early stage of the training process\""),
    Setting("exploration phase", lambda s: f"k-NN state-entropy reward (k = {s.knn_k})",
            "RbRL / B-Pref's unsupervised pre-training (PEBBLE)"),
    Setting("query selection", lambda s: s.schedule.selection,
            "ours, the paper's text; RbRL's code selects by ensemble disagreement by default"),
    Setting("reward model", _reward_model, "RbRL / B-Pref `reward_model.py`"),
    Setting("reward-model fits", _fits,
            "the RbRL code fits inside its rollout loop, blocking "
            "(`on_policy_with_reward_algorithm.py`); in the background: ours, "
            "for speed (a fit's model is used one iteration later)", any_value=True),
    Setting("rating range per env (the synthetic rater's bins)",
            lambda s: "`tune_configs/envs.yaml`",
            "ours: one calibration rule for every env (docs/campaign.md, \"Rating "
            "boundaries\"); the RbRL code's `reward_model.py` (`get_label`) bins [0, 50] in "
            "fixed equal widths for every env (README: adjusted by hand for quadruped)"),
    Setting("k in Q_σ, α in eq. 3",
            lambda s: f"{s.reward_model.k:g}, {s.reward_model.alpha:g}",
            "paper (k); ours (α: eq. 3 is a reconstruction, docs/methods.md)"),
)  # fmt: skip

RBRL_DIFFERENCES = (
    f"**Differences from the RbRL code ({RBRL}), and what they mean for comparing with "
    "its curves.** gSDE (RbRL: on, a new noise matrix every 4 steps) explores with noise "
    "that depends on the state; here the Gaussian noise is independent per step. RbRL's "
    "clip range shrinks to 0 over 4M steps, so its late updates are smaller than ours. "
    "Its rollouts and minibatches differ per env (walker 32 × 500, minibatch 64; "
    "quadruped 16 × 500, 128, λ 0.9). Its queries pick the segments the ensemble "
    "disagrees on most (`selection: disagreement` here, not the default). Its rater bins "
    "[0, 50] with fixed equal widths for every env, where each env here has a calibrated "
    "range (`tune_configs/envs.yaml`) that gives every class ratings early but tops out "
    "sooner (results/campaign_v2/ANALYSIS.md, on a saturated learned reward). Each of these "
    "changes what a seed learns, so curves from this project are comparable with RbRL's "
    "in shape, not number for number; the SB3 reference with RbRL's own settings "
    '(BENCHMARKS.md, "Learning parity") shows what its PPO does on this machine.'
)


#: The spec each source speaks for: the paper preset with the default schedule, reward
#: model and evaluation. A record's value that differs is its campaign's own choice.
REFERENCE = ExperimentSpec(env="cartpole-balance", method="ours", classes=3, seed=0)


def _values(setting: Setting, specs: list[ExperimentSpec]) -> str:
    """The setting's value, or each value with its count where the specs differ."""
    counts = Counter(setting.value(s) for s in specs)
    if not counts:
        return "– (no trial learns from ratings)"
    if len(counts) == 1:
        return next(iter(counts))
    return "; ".join(f"{v} ({n} trials)" for v, n in sorted(counts.items()))


def _source(setting: Setting, specs: list[ExperimentSpec]) -> str:
    """The source, which speaks for the reference value only: other values are the
    campaign's own choice, and the row says so."""
    reference = setting.value(REFERENCE)
    if setting.any_value or {setting.value(s) for s in specs} <= {reference}:
        return setting.source
    return f"for {reference}: {setting.source} — other values: this campaign's own setting"


def settings_table(specs: list[ExperimentSpec], heading: str = "value") -> list[str]:
    """The markdown table: setting | its value(s) in `specs` | where it comes from. The
    rows from "ratings" on read only the specs that learn from ratings."""
    rated = [s for s in specs if s.learns_reward]
    lines = [f"| setting | {heading} | source |", "|---|---|---|"]
    for index, setting in enumerate(SETTINGS):
        pool = specs if index < RATING_ROWS else rated
        lines.append(f"| {setting.label} | {_values(setting, pool)} | {_source(setting, pool)} |")
    return lines


def settings_lines(specs: list[ExperimentSpec]) -> list[str]:
    """RESULTS.md's section on the settings its records ran with."""
    if not specs:
        return []
    return [
        "## Where the settings come from",
        "",
        "Per setting, the value these records ran with and its source: the paper's text "
        f"(arXiv 2506.09183), the public RbRL code ({RBRL}: its `train_PPO.py` defaults and "
        "`scripts/<env>/run_ppo.sh`), stable-baselines3's defaults (the PPO that code "
        "runs), or this project's choice.",
        "",
        *settings_table(specs, "value in these records"),
        "",
        RBRL_DIFFERENCES,
        "",
    ]


#: SETTINGS from this index on concern ratings and the reward model (not `ppo` trials).
RATING_ROWS = next(i for i, s in enumerate(SETTINGS) if s.label == "ratings")
