"""One experiment spec: what a trial is, validated before anything starts."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from rbrl_ray.envs import TASK_NAMES
from rbrl_ray.feedback.rater import RaterConfig, RaterNoise
from rbrl_ray.feedback.segments import SEGMENT_LENGTH
from rbrl_ray.methods import ALL_METHODS, REWARD_METHODS
from rbrl_ray.reward.config import RewardModelConfig
from rbrl_ray.validation import (
    CLASSES_BOUND,
    ClassCount,
    StrictModel,
    error_line,
    is_loopback,
    known,
)


class RatingSchedule(StrictModel):
    """When segments go to the rater: 2,000 ratings in all (the paper); 200 every 20k
    steps after 32k of exploration is this project's spacing (the paper says only "during
    the early stage of the training process")."""

    explore_steps: int = Field(32_000, ge=0, description="intrinsic-reward steps before query 1")
    every: int = Field(20_000, gt=0, description="env steps between queries")
    per_query: int = Field(200, gt=0, description="segments rated per query")
    total: int = Field(2_000, gt=0, description="ratings in all")
    selection: str = Field("uniform", description="uniform or disagreement")
    pool_size: int = Field(2_000, gt=0, description="most recent candidate segments kept")
    background_fit: bool = Field(
        False,
        description="fit the reward model while the next iteration trains; its weights "
        "are used from the iteration after that (one iteration later than a blocking fit)",
    )
    first_fit_blocks: bool = Field(
        True,
        description="with background_fit: the first fit blocks (there is no model to train "
        "on yet), so the exploration reward ends at explore_steps; false: it runs in the "
        "background too and the exploration reward lasts one iteration longer (campaign v1)",
    )

    @field_validator("selection")
    @classmethod
    def _known_selection(cls, value: str) -> str:
        return known(value, ("uniform", "disagreement"), "selection")

    @property
    def queries(self) -> int:
        return math.ceil(self.total / self.per_query)

    def query_step(self, index: int) -> int:
        """Env step at which query `index` (0-based) is due."""
        return self.explore_steps + index * self.every


class EvaluationSettings(StrictModel):
    """Evaluation of the frozen policy on the true reward, beside the training return.

    The training return (RLlib's `episode_return_mean`) averages the exploring
    policy's episodes over a window of iterations; this one runs `episodes` whole
    episodes of one iteration's policy, without updating anything.
    """

    every: int = Field(5, ge=0, description="iterations between evaluations; 0: only the last")
    episodes: int = Field(
        8, ge=0, description="episodes per evaluation (8: one round of 8 envs); 0: none"
    )
    explore: bool = Field(
        False, description="False: the policy's mean action (SB3's evaluate_policy default)"
    )


class PPOSettings(StrictModel):
    """PPO as the paper's code runs it, setting by setting.

    Where each comes from (the source, per field below): the paper's Appendix A
    gives only lr 5e-5, clip 0.4 and the 3×256 nets. The rest is from the public
    RbRL code (Dev1nW/Rating-based-Reinforcement-Learning: `train_PPO.py`'s
    defaults and `scripts/<env>/run_ppo.sh`), which runs stable-baselines3's PPO,
    so what neither says is SB3's default. Differences from that code, each a
    choice of this project (docs/methods.md, "Where the settings come from"): no gSDE
    (RbRL: on), a constant clip (RbRL: decaying linearly from 0.4 to 0), one
    rollout and minibatch for every env (RbRL's are per env), observation
    statistics frozen after 32k steps in the paper preset (RbRL: VecNormalize,
    never frozen).
    """

    lr: float = Field(5e-5, gt=0, description="Adam learning rate (paper App. A; RbRL scripts)")
    clip_param: float = Field(
        0.4, gt=0, description="PPO ratio clip ε (App. A; RbRL decays it linearly from 0.4 to 0)"
    )
    gamma: float = Field(0.99, gt=0, le=1, description="discount (SB3 default; RbRL sets none)")
    lambda_: float = Field(
        0.92,
        ge=0,
        le=1,
        description="GAE λ (RbRL train_PPO.py default, walker script; quadruped 0.9)",
    )
    num_epochs: int = Field(
        20, ge=1, description="passes over each rollout (RbRL train_PPO.py --n-epochs default)"
    )
    minibatch_size: int = Field(
        128,
        ge=1,
        description="rows per gradient step (RbRL's quadruped script; its walker script: 64; "
        "one value for every env is this project's choice)",
    )
    entropy_coeff: float = Field(
        0.0, ge=0, description="entropy bonus (RbRL scripts --ent-coef 0.0; SB3 default)"
    )
    vf_loss_coeff: float = Field(0.5, ge=0, description="value-loss weight (SB3 default)")
    grad_clip: float = Field(0.5, gt=0, description="global grad-norm clip (SB3 default)")
    # RLlib's PPO adds an adaptive KL penalty and clips the value loss at 10 by
    # default; the paper's PPO (stable-baselines3, via RbRL/B-Pref) does neither.
    use_kl_loss: bool = False
    vf_clip_param: float | None = Field(None, gt=0, description="None: no value-loss clip")
    train_batch_size: int = Field(
        16_000, ge=1, description="env steps per iteration (RbRL walker script: 32 envs × 500)"
    )
    hidden: tuple[int, ...] = Field(
        (256, 256, 256),
        description="pi and vf nets each (App. A; RbRL --num-layer 3 --hidden-dim 256)",
    )
    activation: str = Field("tanh", description="hidden activation (SB3 MlpPolicy default)")
    # The policy's parameterisation, as SB3's MlpPolicy (the paper's PPO) has it;
    # RLlib's defaults differ, and without its KL penalty they did not learn
    # (BENCHMARKS.md, "Learning parity"; rbrl_ray/rllib/policy_net.py).
    free_log_std: bool = Field(
        True,
        description="True: one state-independent log-std per action dim, starting at 0 "
        "(SB3); False: the policy net outputs it per state (RLlib's default)",
    )
    init: Literal["orthogonal", "torch"] = Field(
        "orthogonal",
        description="orthogonal: SB3's ortho_init (gain √2 hidden, 0.01 policy output, "
        "1 value output, zero biases); torch: torch's Linear default (RLlib's)",
    )
    adam_eps: float = Field(1e-5, gt=0, description="Adam's epsilon (SB3 sets 1e-5; torch 1e-8)")
    # Both kernels take the same Adam step, rounded differently (last bits), and the
    # rounding alone changes what a seed learns. Only foreach has a learning record
    # (cartpole, paper preset, 5 seeds: final evaluation 986.4 ± 4.4 against fused's
    # 890.1 ± 77.2; BENCHMARKS.md), so every preset uses it. Fused is a speed option
    # without a learning record (0.2 against 0.5 ms per step at 3x256 on CPU, about
    # 1 s of a 16k-step update): validate it on 10 seeds before a preset takes it.
    adam: Literal["foreach", "fused"] = Field(
        "foreach",
        description="torch's Adam implementation: fused (one kernel) or foreach (multi-tensor)",
    )

    @property
    def observation_normalisation(self) -> str:
        """What the policy's observations were normalised with, in words (for records)."""
        if not self.normalize_observations:
            return "none (raw observations)"
        frozen = (
            f", frozen after {self.freeze_observation_stats_at:,} env steps"
            if self.freeze_observation_stats_at
            else ""
        )
        if self.num_env_runners == 0:
            return f"running mean/std of every observation (sampled in the trial process){frozen}"
        if self.filter_merge == "rllib":
            return (
                "running mean/std merged across EnvRunners RLlib 2.60's way: after every "
                "sync the mean is pulled toward zero and the std widened "
                f"(docs/rllib_filter_merge_repro.py){frozen}"
            )
        return f"running mean/std of every observation, pooled across EnvRunners{frozen}"

    @property
    def adam_kernel(self) -> dict[str, bool]:
        """torch.optim.Adam's keyword for `adam`."""
        return {"fused": True} if self.adam == "fused" else {"foreach": True}

    update_loop: Literal["lean", "rllib"] = Field(
        "lean",
        description="lean: this project's update loop, the same gradient steps without "
        "RLlib's per-minibatch bookkeeping (rllib/lean/learner.py); rllib: RLlib's own",
    )
    num_gpus_per_learner: float = Field(
        0.0,
        ge=0,
        description="GPUs for the learner (RLlib's learners(num_gpus_per_learner)); 0: CPU",
    )
    # A trial's EnvRunner samples while its learner waits, then the learner updates
    # while the EnvRunner waits: half a CPU each keeps one CPU busy (a packed grid).
    env_runner_cpus: float = Field(
        1.0, gt=0, description="CPUs reserved per EnvRunner (RLlib's num_cpus_per_env_runner)"
    )
    learner_cpus: float = Field(
        1.0,
        gt=0,
        description="CPUs reserved for the trial's own process, which runs the learner "
        "(RLlib's num_cpus_for_main_process)",
    )
    # RbRL's VecNormalize: the running mean/std of every observation (exact in every
    # layout with filter_merge "pooled"). Measured at the paper preset, 5 seeds, 300k
    # (BENCHMARKS.md, "Observation normalisation"): cartpole learns far better on raw
    # observations than with running statistics (973.3 ± 3.5 against 599.5 ± 37.7),
    # walker worse (158.0 ± 5.7 against 224.8 ± 19.6); statistics frozen after 32k
    # steps (freeze_observation_stats_at) learned best on both, so the paper preset
    # takes them. The field defaults stay RbRL's.
    normalize_observations: bool = Field(True, description="running mean/std (RbRL scripts)")
    # RLlib 2.60 merges EnvRunners' statistics wrongly (mean pulled toward zero, std
    # widened after every sync; rllib/observation_filter.py). "pooled" is the exact
    # merge, and every preset takes it. "rllib" is what every trial ran before this
    # setting existed (the v1 campaign, the parity record), so a spec that does not
    # name it means that, as stored specs and resumed Tune experiments do.
    filter_merge: Literal["pooled", "rllib"] = Field(
        "rllib",
        description="how EnvRunners' observation statistics are merged: pooled (exact) or "
        "rllib (RLlib 2.60's, which drifts; only to reproduce older records)",
    )
    freeze_observation_stats_at: int | None = Field(
        None,
        ge=1,
        description="env steps after which the observation statistics stop updating; "
        "None: never (VecNormalize)",
    )
    env_runner_connectors: Literal["lean", "rllib"] = Field(
        "lean",
        description="lean: this project's connector pieces, the same numbers with less "
        "per-env work (rllib/lean/connectors.py); rllib: RLlib's own",
    )
    sampler: Literal["lean", "rllib"] = Field(
        "lean",
        description="lean: this project's vector of dm_control envs and rollout loop, the "
        "same episodes with less per-step work (rllib/lean/vector_env.py, env_runner.py); "
        "rllib: gymnasium's SyncVectorEnv of wrapped envs and RLlib's SingleAgentEnvRunner",
    )
    # 1: sampling beside the learner, on its own CPU. 0 (in the trial's process) learns
    # alike with exact statistics (paper preset, 5 seeds: cartpole 972.0 ± 2.8 against
    # 976.0 ± 2.8 with 1 EnvRunner; BENCHMARKS.md, "Observation normalisation"); the
    # earlier gap came from RLlib's drifting merge, which only remote runners ran.
    num_env_runners: int = Field(1, ge=0, description="sampling processes")
    envs_per_runner: int = Field(
        8, ge=1, description="vectorised envs per runner (RbRL's walker script: 32)"
    )
    placement: Literal["PACK", "SPREAD"] = Field(
        "PACK",
        description="where a trial's pieces (its process, EnvRunners, rating service) go "
        "on a cluster: PACK, on one node where they fit; SPREAD, across nodes (RLlib's "
        "placement_strategy)",
    )


#: Named PPO presets. "small" is for tests: the same machinery with tiny batches
#: and nets, so a trial of a few thousand steps takes seconds. "demo" is for a
#: laptop: small nets and SB3's default learning rate and epochs, so cartpole
#: climbs within ~100k steps, sampled in the trial's own process. Neither is the
#: paper's PPO.
PPO_PRESETS: dict[str, PPOSettings] = {
    # Observation statistics frozen after the first 32k env steps (the paper
    # schedule's exploration phase): the variant that learned best on both
    # cartpole and walker (BENCHMARKS.md, "Observation normalisation").
    "paper": PPOSettings(filter_merge="pooled", freeze_observation_stats_at=32_000),
    "small": PPOSettings(
        lr=3e-4,
        num_epochs=2,
        minibatch_size=250,
        train_batch_size=1_000,
        hidden=(64, 64),
        envs_per_runner=2,
        filter_merge="pooled",
    ),
    "demo": PPOSettings(
        lr=3e-4,
        num_epochs=10,
        minibatch_size=64,
        train_batch_size=4_000,
        hidden=(64, 64),
        envs_per_runner=4,
        num_env_runners=0,
        filter_merge="pooled",
    ),
}


class RatingPageSettings(StrictModel):
    """Where the cluster's rating desk serves its page (with `rater: human`)."""

    host: str = Field("127.0.0.1", description="address to bind; not loopback needs expose")
    port: int = Field(8765, ge=0, le=65535, description="0: any free port (see page.json)")
    expose: bool = Field(False, description="allow a host other machines can reach")

    @model_validator(mode="after")
    def _loopback_unless_exposed(self) -> RatingPageSettings:
        if not is_loopback(self.host) and not self.expose:
            raise ValueError(f"rating_page.host {self.host} is reachable from other machines: "
                             "set rating_page.expose: true")  # fmt: skip
        return self


#: Settings added after specs were first stored (records, Tune configs, checkpoints),
#: with the value that a stored spec without them ran with, where that is not today's
#: default.
STORED_WITHOUT: dict[tuple[str, str], object] = {("schedule", "first_fit_blocks"): False}


class ExperimentSpec(StrictModel):
    """Everything that defines one trial."""

    env: str
    method: str
    classes: ClassCount | None = None
    seed: int = 0
    timesteps: int = Field(4_000_000, gt=0)
    schedule: RatingSchedule = RatingSchedule()
    noise: RaterNoise = RaterNoise()
    rating_range: tuple[float, float] = (0.0, float(SEGMENT_LENGTH))
    reward_model: RewardModelConfig = RewardModelConfig()
    ppo: PPOSettings = PPO_PRESETS["paper"]
    knn_k: int = Field(5, ge=1, description="k of the state-entropy exploration reward")
    service_cpus: float = Field(0.0, ge=0, description="CPUs reserved for the rating service")
    service_gpus: float = Field(
        0.0, ge=0, description="GPUs for the rating service's fits (a fraction shares one)"
    )
    evaluation: EvaluationSettings = EvaluationSettings()
    rater: Literal["synthetic", "human"] = Field(
        "synthetic",
        description="synthetic: the bin of the true return; human: a person on the rating "
        "page (python -m rbrl_ray.rate, rbrl_ray/human/)",
    )
    physics_states: bool = Field(
        False,
        description="record each step's physics state with the segments, so they can be "
        "rendered for a person (always on with rater: human)",
    )
    rating_page: RatingPageSettings = RatingPageSettings()

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> ExperimentSpec:
        """A spec as `model_dump` wrote it, at any earlier version: a setting added since
        takes the value that spec ran with (STORED_WITHOUT), not today's default."""
        data = dict(data)
        for (section, name), value in STORED_WITHOUT.items():
            if isinstance(data.get(section), dict) and name not in data[section]:
                data[section] = {**data[section], name: value}
        return cls.model_validate(data)

    @field_validator("env")
    @classmethod
    def _known_env(cls, value: str) -> str:
        return known(value, TASK_NAMES, "env")

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        return known(value, ALL_METHODS, "method")

    @model_validator(mode="after")
    def _classes_match_method(self) -> ExperimentSpec:
        if self.method in REWARD_METHODS and self.classes is None:
            raise ValueError(
                f"method {self.method!r} learns from ratings: give classes ({CLASSES_BOUND})"
            )
        if self.method == "ppo" and self.classes is not None:
            raise ValueError("method 'ppo' trains on the env reward and takes no classes")
        if self.learns_reward:
            try:
                self.rater_config()  # the rater checks its own settings (the rating range)
            except ValidationError as err:
                raise ValueError(error_line(err)) from None
        if self.learns_reward and self.reward_model.device == "cuda" and self.service_gpus <= 0:
            raise ValueError(
                "reward_model.device 'cuda' fits on a GPU: give the rating service one "
                "(service_gpus, e.g. 0.25 to share a GPU between four services)"
            )
        if self.rater == "human":
            if not self.learns_reward:
                raise ValueError(f"rater 'human' rates segments; method {self.method!r} has none")
            if not self.physics_states:
                raise ValueError("rater 'human' watches rendered segments: physics_states: true")
        return self

    @model_validator(mode="before")
    @classmethod
    def _a_person_needs_physics_states(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("rater") == "human":
            return {"physics_states": True, **data}
        return data

    @property
    def learns_reward(self) -> bool:
        return self.method in REWARD_METHODS

    def rater_config(self) -> RaterConfig:
        assert self.classes is not None
        low, high = self.rating_range
        return RaterConfig(n_classes=self.classes, low=low, high=high, noise=self.noise)
