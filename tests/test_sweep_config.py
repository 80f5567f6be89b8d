"""Sweep YAML validation and grid expansion: fast, no Ray."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rbrl_ray.experiment import PPO_PRESETS
from rbrl_ray.rllib.keys import spec_of
from rbrl_ray.sweep.grid import dedup_note, expand, load_sweep
from rbrl_ray.validation import ConfigError

CONFIGS = Path(__file__).resolve().parent.parent / "tune_configs"


def test_paper_grid_is_the_full_grid_with_ppo_once_per_env_and_seed():
    sweep, settings = load_sweep(CONFIGS / "paper.yaml")
    specs = expand(sweep, settings)
    assert len(sweep.envs) * len(sweep.classes) * len(sweep.methods) * len(sweep.seed_list) == 1800
    assert len(specs) == 1800 - 6 * 10 * 4 == 1560
    ppo = [s for s in specs if s.method == "ppo"]
    assert len(ppo) == 60 and all(s.classes is None for s in ppo)
    assert {(s.env, s.seed) for s in ppo} == {(e, k) for e in sweep.envs for k in range(10)}
    assert all(s.timesteps == 4_000_000 and s.schedule.total == 2000 for s in specs)
    assert all(s.ppo.lr == 5e-5 and s.ppo.clip_param == 0.4 for s in specs)
    assert "1,560 trials instead of 1,800" in dedup_note(sweep, len(specs))


def test_smoke_grid_is_small():
    sweep, settings = load_sweep(CONFIGS / "smoke.yaml")
    specs = expand(sweep, settings)
    assert [(s.method, s.classes) for s in specs] == [("ppo", None), ("rbrl", 3), ("ours", 3)]
    assert all(s.ppo.num_env_runners == 0 for s in specs)


def test_demo_grid_is_the_three_main_methods_on_calibrated_cartpole():
    sweep, settings = load_sweep(CONFIGS / "demo.yaml")
    specs = expand(sweep, settings)
    assert [(s.method, s.classes) for s in specs] == [("ppo", None), ("rbrl", 3), ("ours", 3)]
    # the demo preset with the Adam kernel its README figures were measured with
    demo_foreach = PPO_PRESETS["demo"].model_copy(update={"adam": "foreach"})
    assert all(s.ppo == demo_foreach and s.ppo.num_env_runners == 0 for s in specs)
    # the calibrated range of envs.yaml, not the default [0, 50]
    assert specs[1].rating_range == settings["cartpole-balance"].rating_range != (0.0, 50.0)
    assert all(s.evaluation.episodes > 0 for s in specs)


def test_per_env_settings_override_range_and_ppo(tmp_path):
    (tmp_path / "envs.yaml").write_text(
        "walker-walk:\n  rating_range: [0, 10]\n  ppo: {train_batch_size: 4000}\n"
    )
    (tmp_path / "s.yaml").write_text(
        "name: t\nenvs: [walker-walk, cheetah-run]\nmethods: [ours]\nclasses: [2]\nseeds: 1\n"
        "timesteps: 100\n"
    )
    sweep, settings = load_sweep(tmp_path / "s.yaml")
    walker, cheetah = expand(sweep, settings)
    assert walker.rating_range == (0.0, 10.0) and walker.ppo.train_batch_size == 4000
    assert cheetah.rating_range == (0.0, 50.0) and cheetah.ppo.train_batch_size == 16_000


def test_one_line_puts_a_person_in_the_loop_of_the_rating_methods_only():
    sweep, settings = load_sweep(CONFIGS / "human.yaml")
    specs = expand(sweep, settings)
    assert [(s.method, s.rater, s.physics_states) for s in specs] == [("ours", "human", True)]
    # in a grid with ppo, its trials (no ratings) stay as they are
    sweep, settings = load_sweep(CONFIGS / "demo.yaml")
    human = sweep.model_copy(update={"rater": "human"})
    by_method = {s.method: (s.rater, s.physics_states) for s in expand(human, settings)}
    assert by_method == {"ppo": ("synthetic", False), "rbrl": ("human", True),
                         "ours": ("human", True)}  # fmt: skip


GOOD = (
    "name: t\nenvs: [cartpole-balance]\nmethods: [ours]\nclasses: [3]\nseeds: 1\ntimesteps: 100\n"
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("name: t\nenvs: [cartpole-balance\n", "malformed YAML"),
        (GOOD + "methdos: [ppo]\n", "unknown key 'methdos'; allowed: name, envs, methods"),
        (
            GOOD.replace("cartpole-balance", "pong"),
            "envs: unknown env 'pong'; allowed: cartpole-balance",
        ),
        (GOOD.replace("[ours]", "[ours, dpo]"), "methods: unknown method 'dpo'; allowed: ppo"),
        (GOOD.replace("[3]", "[3, 11]"), "classes: classes must be 2..10, got 11"),
        (
            GOOD.replace("timesteps: 100", "timesteps: 0"),
            "timesteps: Input should be greater than 0",
        ),
        (GOOD + "schedule: {total: -5}\n", "schedule.total"),
        (GOOD + "ppo: {lr: -1}\n", "lr"),
        (GOOD + "rater: person\n", "rater"),
        (GOOD + "rating_page: {host: 0.0.0.0}\n", "rating_page.expose: true"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_sweep_yaml_names_file_key_and_allowed_values(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    (tmp_path / "envs.yaml").write_text("{}\n")
    with pytest.raises(ConfigError) as err:
        sweep, settings = load_sweep(path)
        expand(sweep, settings, str(path))
    message = str(err.value)
    assert str(path) in message and expected in message
    assert "\n" not in message


def test_bad_env_settings_name_the_env_file(tmp_path):
    (tmp_path / "envs.yaml").write_text("walker-walk:\n  rating_rnge: [0, 1]\n")
    (tmp_path / "s.yaml").write_text(GOOD)
    with pytest.raises(
        ConfigError,
        match=r"envs.yaml: unknown key 'walker-walk.rating_rnge'; allowed: rating_range",
    ):
        load_sweep(tmp_path / "s.yaml")


def _sweep(*args):
    return subprocess.run(
        [sys.executable, "-m", "rbrl_ray.sweep", *args], capture_output=True, text=True, timeout=120
    )


def test_dry_run_prints_the_grid_and_count_and_starts_nothing():
    run = _sweep("--config", str(CONFIGS / "paper.yaml"), "--dry-run")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "1,560 trials" in run.stdout and "instead of 1,800" in run.stdout
    assert "quadruped-walk" in run.stdout and "ours_reg" in run.stdout
    assert "Started a local Ray" not in run.stdout + run.stderr


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["--storage", "ftp://host/x"],
            "unsupported --storage scheme 'ftp://'; allowed: local path",
        ),
        (["--resume", "--storage", "{tmp}"], "--resume: no experiment to resume at"),
        (["--max-concurrent", "0"], "max-concurrent must be >= 1"),
        (["--wandb", "loud"], "invalid choice: 'loud'"),
    ],
)
def test_bad_flags_are_one_line_exit_2(tmp_path, args, expected):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    run = _sweep("--config", str(CONFIGS / "smoke.yaml"), *args)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], run.stderr
    assert "Started a local Ray" not in run.stdout + run.stderr


def test_missing_config_file_is_one_line_exit_2(tmp_path):
    run = _sweep("--config", str(tmp_path / "nope.yaml"), "--dry-run")
    assert run.returncode == 2 and "nope.yaml: no such file" in run.stderr


def test_a_human_rated_sweep_gives_all_its_trials_one_desk_folder(tmp_path):
    from rbrl_ray.rllib.keys import DESK_DIR_KEY
    from rbrl_ray.sweep.tuner import desk_dir, new_tuner

    assert desk_dir(str(tmp_path), "human") == str(tmp_path / "human" / "rating_desk")
    assert desk_dir(f"file://{tmp_path}", "h") == str(tmp_path / "h" / "rating_desk")
    # in remote storage, beside the run (an S3 endpoint in the query is kept)
    assert desk_dir("s3://bucket/runs", "h") == "s3://bucket/runs/h/rating_desk"
    endpoint = "endpoint_override=127.0.0.1:9000&scheme=http"
    assert desk_dir(f"s3://b/runs/?{endpoint}", "h") == f"s3://b/runs/h/rating_desk?{endpoint}"
    sweep, settings = load_sweep(CONFIGS / "human.yaml")
    tuner = new_tuner(expand(sweep, settings), name="h", storage=str(tmp_path),
                      checkpoint_every=1, max_failures=0)  # fmt: skip
    extras = tuner._local_tuner._param_space["learner_config_dict"]
    assert extras[DESK_DIR_KEY] == str(tmp_path / "h" / "rating_desk")
    sweep, settings = load_sweep(CONFIGS / "demo.yaml")
    synthetic = new_tuner(expand(sweep, settings), name="d", storage=str(tmp_path),
                          checkpoint_every=1, max_failures=0)  # fmt: skip
    assert DESK_DIR_KEY not in synthetic._local_tuner._param_space["learner_config_dict"]


SHIPPED_SWEEPS = ["demo.yaml", "human.yaml", "paper.yaml", "rehearsal.yaml", "smoke.yaml"]


def test_every_shipped_sweep_yaml_is_listed_here_and_expands():
    """A sweep YAML in tune_configs/ that does not load would fail its first user."""
    not_sweeps = {"envs.yaml", "campaign.yaml", "campaign_v2.yaml", "alpha_k.yaml"}  # campaigns
    assert sorted(p.name for p in CONFIGS.glob("*.yaml") if p.name not in not_sweeps) == (
        SHIPPED_SWEEPS
    )
    for name in SHIPPED_SWEEPS:
        sweep, settings = load_sweep(CONFIGS / name)
        assert expand(sweep, settings, name), name


BASE_SWEEP = "name: a\nenvs: [cartpole-balance]\nmethods: [ours]\nclasses: [3]\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # an unknown nested key: its full path, and the keys of its own level
        (BASE_SWEEP + "seeds: 1\ntimesteps: 1000\nschedule:\n  per_qeury: 10\n",
         "unknown key 'schedule.per_qeury'; allowed: explore_steps, every, per_query, total,"),
        # a misspelt key leaves a required one missing: the unknown key is the news
        (BASE_SWEEP + "seed: 1\ntimesteps: 1000\n", "unknown key 'seed'; allowed: name, envs,"),
        # a PPO setting is named with its section
        (BASE_SWEEP + "seeds: 1\ntimesteps: 1000\nppo:\n  env_runner_cpus: -1\n",
         "ppo.env_runner_cpus: Input should be greater than 0"),
        (BASE_SWEEP + "seeds: 1\ntimesteps: 1000\nppo:\n  lrr: 1\n",
         "unknown key 'ppo.lrr'; allowed: lr, clip_param,"),
        # the line where the unclosed list starts, not only where the parser noticed
        ("name: a\nenvs: [cartpole-balance\nmethods: [ours]\n",
         "malformed YAML at line 2 (a flow sequence that starts there): expected ',' or ']'"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key_at_its_own_level(tmp_path, text, message):
    (tmp_path / "envs.yaml").write_text("{}\n")
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        sweep, settings = load_sweep(tmp_path / "bad.yaml")
        expand(sweep, settings)
    assert message in str(raised.value)


def test_a_config_copied_elsewhere_finds_the_shipped_env_settings(tmp_path):
    """A researcher copies demo.yaml to edit it: the calibrated rating ranges come along
    (the package's envs.yaml), unless a file of that name is beside the copy."""
    (tmp_path / "demo.yaml").write_text((CONFIGS / "demo.yaml").read_text())
    _, shipped = load_sweep(CONFIGS / "demo.yaml")
    _, found = load_sweep(tmp_path / "demo.yaml")
    assert found == shipped and found["cheetah-run"].rating_range is not None
    (tmp_path / "envs.yaml").write_text("{}\n")
    assert load_sweep(tmp_path / "demo.yaml")[1] == {}


def test_wandb_online_accepts_the_key_wandb_login_stored(tmp_path, monkeypatch):
    from rbrl_ray.cli import UsageError
    from rbrl_ray.sweep.cli import wandb_mode

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_BASE_URL", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    with pytest.raises(UsageError, match="needs W&B credentials"):
        wandb_mode("online")
    assert wandb_mode(None) == "offline"
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password abc123\n")
    (tmp_path / "netrc").chmod(0o600)
    assert wandb_mode("online") == "online" and wandb_mode(None) == "online"


def test_ppo_is_tagged_with_every_class_count_it_is_compared_against():
    from rbrl_ray.experiment import ExperimentSpec
    from rbrl_ray.sweep.tune_logging import SpecWandbCallback, wandb_group, wandb_tags

    ppo = ExperimentSpec(env="cartpole-balance", method="ppo")
    ours = ExperimentSpec(env="cartpole-balance", method="ours", classes=3)
    assert wandb_tags(ppo, [3, 5, 3]) == ["ppo", "cartpole-balance", "classes=3", "classes=5"]
    assert wandb_tags(ppo) == ["ppo", "cartpole-balance", "classes=-"]
    assert wandb_tags(ours, [3, 5]) == ["ours", "cartpole-balance", "classes=3"]
    assert wandb_group(ppo) == "cartpole-balance/all-classes"
    callback = SpecWandbCallback(project="p", mode="offline", compared_classes=[3, 5])
    assert callback.compared_classes == (3, 5)


VARIED = """
name: varied
envs: [cartpole-balance]
methods: [ppo, ours]
classes: [3]
seeds: 1
timesteps: 1000
preset: small
reward_model:
  alpha: [0.1, 10]
ppo:
  hidden: [[8], [16, 16]]
"""


def test_list_valued_settings_are_a_grid_with_names_and_flat_configs(tmp_path):
    from types import SimpleNamespace

    from ray.tune.search.variant_generator import generate_variants
    from ray.tune.utils import flatten_dict

    from rbrl_ray.sweep.tune_logging import trial_name, varied_values, wandb_tags
    from rbrl_ray.sweep.tuner import new_tuner

    (tmp_path / "v.yaml").write_text(VARIED)
    sweep, settings = load_sweep(tmp_path / "v.yaml")
    assert sweep.varied == {"reward_model.alpha": [0.1, 10], "ppo.hidden": [[8], [16, 16]]}
    specs = expand(sweep, settings)
    # ours: 2 alphas x 2 nets; ppo ignores alpha, so once per net
    ours = {(s.reward_model.alpha, s.ppo.hidden) for s in specs if s.method == "ours"}
    assert ours == {(a, h) for a in (0.1, 10) for h in ((8,), (16, 16))}
    assert sorted(s.ppo.hidden for s in specs if s.method == "ppo") == [(8,), (16, 16)]
    assert len(specs) == 6 and "6 trials instead of 8" in dedup_note(sweep, len(specs))

    tuner = new_tuner(specs, name="v", storage=str(tmp_path), checkpoint_every=1,
                      max_failures=0, varied=list(sweep.varied))  # fmt: skip
    param_space = tuner._local_tuner._param_space
    configs = [config for _, config in generate_variants(param_space)]
    assert len(configs) == 6
    flat = [flatten_dict(c) for c in configs]  # what Tune's table and HParams read
    assert {f["learner_config_dict/rbrl_spec/reward_model/alpha"] for f in flat} == {0.1, 10}
    ours = next(c for c in configs if c["learner_config_dict"]["rbrl_spec"]["method"] == "ours")
    assert varied_values(ours).keys() == {"alpha", "hidden"}
    name = trial_name(SimpleNamespace(config=ours, trial_id="abc"))
    assert re.fullmatch(r"cartpole-balance_ours_c3_s0_alpha=(0\.1|10)_hidden=(8|16x16)_abc", name)
    tags = wandb_tags(spec_of(ours), varied=varied_values(ours))
    assert {t.split("=")[0] for t in tags if "=" in t} == {"classes", "alpha", "hidden"}


@pytest.mark.parametrize(
    "change, message",
    [
        (
            "alpha: [0.1, -1]",
            "reward_model.alpha: Input should be greater than or equal to 0, got -1",
        ),
        ("alpha: []", "reward_model.alpha: an empty list varies over nothing"),
        ("alhpa: [1, 2]", "unknown key 'reward_model.alhpa'"),
    ],
)
def test_a_bad_varied_value_is_one_line_before_ray(tmp_path, change, message):
    (tmp_path / "v.yaml").write_text(VARIED.replace("alpha: [0.1, 10]", change))
    with pytest.raises(ConfigError, match=re.escape(message)):
        sweep, settings = load_sweep(tmp_path / "v.yaml")
        expand(sweep, settings, str(tmp_path / "v.yaml"))
