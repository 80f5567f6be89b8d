"""An EnvRunner whose rollout loop does RLlib's work without its per-step overheads.

RLlib's SingleAgentEnvRunner._sample, step for step, with four changes that
leave every sampled number as it was (tests/test_sampler.py compares the
episodes with RLlib's loop):
- the module is put in eval mode once per rollout, not twice per vector step
  (`forward_exploration` toggles train/eval around each call: 7 % of sampling);
- the connector pipelines run without their per-piece timers (RLlib times every
  piece on every step through its MetricsLogger: about 5 % of sampling);
- `on_episode_step` is only called when a callback defines it;
- RLlib's default PPO module is run through its layers directly
  (policy_net.lean_action_dist_inputs), without the model wrappers' dicts.
Anything else (sampling whole episodes, random actions, no module) goes to
RLlib's own loop.
"""

from __future__ import annotations

from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.core import Columns
from ray.rllib.env.env_runner import ENV_STEP_FAILURE
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from ray.rllib.utils.metrics import WEIGHTS_SEQ_NO

from rbrl_ray.rllib.lean.policy_forward import lean_action_dist_inputs


class LeanEnvRunner(SingleAgentEnvRunner):
    def _sample(
        self,
        *,
        num_timesteps: int | None = None,
        num_episodes: int | None = None,
        explore: bool,
        random_actions: bool = False,
        force_reset: bool = False,
    ) -> list[SingleAgentEpisode]:
        if num_timesteps is None or random_actions or self.module is None:
            return super()._sample(
                num_timesteps=num_timesteps,
                num_episodes=num_episodes,
                explore=explore,
                random_actions=random_actions,
                force_reset=force_reset,
            )
        if force_reset or self._needs_initial_reset:
            self._reset_envs_and_episodes(explore)
        module = self.module
        was_training = module.training
        module.eval()
        try:
            ts, done = self._rollout(num_timesteps, explore)
        finally:
            if was_training:
                module.train()
        return self._finish_rollout(ts, done)

    def _rollout(self, num_timesteps: int, explore: bool) -> tuple[int, list[SingleAgentEpisode]]:
        """Step the vector env until `num_timesteps` steps are taken; the finished episodes."""
        ts, done = 0, []
        runners = self.config.num_env_runners or 1
        step_callbacks = self._defines_episode_step_callback()
        while ts < num_timesteps:
            to_module, self._cached_to_module = self._cached_to_module, None
            # as RLlib: global env steps, counted over all EnvRunners
            t = (self.num_env_steps_sampled_lifetime // runners + ts) * runners
            to_env = self._forward(to_module, explore, t)
            to_env = self._module_to_env(
                rl_module=self.module,
                batch=to_env,
                episodes=self._ongoing_episodes,
                explore=explore,
                shared_data=self._shared_data,
                metrics=None,
            )
            actions = to_env.pop(Columns.ACTIONS)
            actions_for_env = to_env.pop(Columns.ACTIONS_FOR_ENV, actions)
            results = self._try_env_step(actions_for_env)
            if results == ENV_STEP_FAILURE:
                ts = 0
                self._reset_envs_and_episodes(explore)
                continue
            steps, started = self._record_step(results, actions, to_env, explore)
            ts += steps
            done += self._close_finished(started, step_callbacks)
        return ts, done

    def _forward(self, batch: dict[str, Any], explore: bool, t: int) -> dict[str, Any]:
        """The module's outputs for a batch (the module is in eval mode)."""
        outputs = lean_action_dist_inputs(self.module, batch)
        if outputs is not None:
            return outputs
        if explore:
            return self.module._forward_exploration(batch, t=t)
        return self.module._forward_inference(batch)

    def _record_step(
        self, results: tuple, actions: Any, outputs: dict, explore: bool
    ) -> tuple[int, set[int]]:
        """Add a vector step to the ongoing episodes and run the env-to-module pipeline;
        the env steps taken and the envs whose episode this step started."""
        observations, rewards, terminateds, truncateds, infos = results
        episodes, steps, started = self._ongoing_episodes, 0, set()
        for i, episode in enumerate(episodes):
            if not episode.is_reset:  # the env was reset by this step (next-step autoreset)
                episode.add_env_reset(observation=observations[i], infos=infos[i])
                started.add(i)
                continue
            steps += 1
            extra = {key: column[i] for key, column in outputs.items()}
            extra[WEIGHTS_SEQ_NO] = self._weights_seq_no
            episode.add_env_step(
                observation=observations[i],
                action=actions[i],
                reward=rewards[i],
                infos=infos[i],
                terminated=terminateds[i],
                truncated=truncateds[i],
                extra_model_outputs=extra,
            )
        self._cached_to_module = self._env_to_module(
            episodes=episodes,
            batch={},
            explore=explore,
            rl_module=self.module,
            shared_data=self._shared_data,
            metrics=None,
            **{
                Columns.OBS: list(observations),
                Columns.ACTIONS: list(actions),
                Columns.REWARDS: rewards,
                Columns.INFOS: infos,
                Columns.TERMINATEDS: terminateds,
                Columns.TRUNCATEDS: truncateds,
            },
        )
        return steps, started

    def _close_finished(self, started: set[int], step_callbacks: bool) -> list[SingleAgentEpisode]:
        """Episode callbacks of a vector step; finished episodes out, fresh ones in."""
        finished = []
        for i in range(self.num_envs):
            if i in started:
                self._make_on_episode_callback("on_episode_start", i, self._ongoing_episodes)
            elif step_callbacks:
                self._make_on_episode_callback("on_episode_step", i, self._ongoing_episodes)
            episode = self._ongoing_episodes[i]
            if episode.is_done:
                self._make_on_episode_callback("on_episode_end", i, self._ongoing_episodes)
                finished.append(episode.to_numpy() if self.episodes_to_numpy else episode)
                self._new_episode(i, self._ongoing_episodes)
        return finished

    def _finish_rollout(self, ts: int, done: list[SingleAgentEpisode]) -> list[SingleAgentEpisode]:
        """RLlib's end of a timestep rollout: cut the ongoing episodes, count, return."""
        self._done_episodes_for_metrics.extend(done)
        continuations = [
            e.cut(len_lookback_buffer=self.config.episode_lookback_horizon)
            for e in self._ongoing_episodes
        ]
        ongoing = []
        for episode in self._ongoing_episodes:
            if episode.t == 0:  # just started: no data to return
                continue
            episode.validate()
            self._ongoing_episodes_for_metrics[episode.id_].append(episode)
            ongoing.append(episode.to_numpy() if self.episodes_to_numpy else episode)
        self._ongoing_episodes = continuations
        self._log_env_steps(metric=self._metrics_num_env_steps_sampled, num_steps=ts)
        self._increase_sampled_metrics(ts, len(done))
        return done + ongoing

    def _defines_episode_step_callback(self) -> bool:
        overridden = any(
            type(c).on_episode_step is not RLlibCallback.on_episode_step for c in self._callbacks
        )
        return overridden or bool(self.config.callbacks_on_episode_step)
