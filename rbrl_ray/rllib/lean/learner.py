"""RLlib's PPO torch learner with a lean update loop; the same learning.

At the paper settings an update is 2,500 minibatch steps of 128 rows (20 epochs
over a 16k-step rollout, 3×256 nets). Profiled, RLlib's `Learner.update` spent
about as long on bookkeeping around each step as on the torch maths: slicing
and concatenating the batch per minibatch and reshuffling every column, about
15 metric logs per step, a per-tensor nan/inf check twice per step, torch's
per-tensor Adam loop on CPU. This learner's `update`

* plans every minibatch's row indices up front, drawing the same shuffles from
  the same RNG as RLlib (`minibatches.py`), and gathers rows per step;
* computes PPO's loss with the same arithmetic (`ppo_loss.py`), clips the
  gradients by the same global norm and steps the module's optimizer (whichever
  the learner class configures: the add-on's Adam with the spec's epsilon);
* logs the metrics once per update, with the values RLlib reports (the losses
  of the last minibatch, steps trained summed over all minibatches).

A non-finite gradient hands that step to RLlib's own handling, and any setting
the lean loop does not cover (KL penalty, several modules or learners,
stateful modules, lr schedules, mixed precision, data iterators) runs RLlib's
update unchanged. `ppo.update_loop: rllib` does not use this class at all.

It knows nothing of the reward add-on or the experiment spec: `rllib/lean_switches.py`
puts it under the add-on's learner when the spec asks for the lean loop.
"""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core import ALL_MODULES, Columns
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.core.learner.training_data import TrainingData
from ray.rllib.utils.metrics import (
    DIFF_NUM_GRAD_UPDATES_VS_SAMPLER_POLICY,
    MODULE_TRAIN_BATCH_SIZE_MEAN,
    NUM_ENV_STEPS_TRAINED,
    NUM_ENV_STEPS_TRAINED_LIFETIME,
    NUM_MODULE_STEPS_TRAINED,
    NUM_MODULE_STEPS_TRAINED_LIFETIME,
    WEIGHTS_SEQ_NO,
)

from rbrl_ray.rllib.lean.minibatches import cyclic_minibatches
from rbrl_ray.rllib.lean.ppo_loss import (
    LOSS_COLUMNS,
    PPOCoefficients,
    PPOLossTerms,
    loss_stats,
    masked_mean_of,
    ppo_loss,
)

#: `update()` keyword arguments the lean loop understands (PPO's training step passes these).
LEAN_KWARGS = frozenset(
    {"training_data", "timesteps", "num_epochs", "minibatch_size", "shuffle_batch_per_epoch"}
)


class LeanPPOTorchLearner(PPOTorchLearner):
    """PPOTorchLearner whose update skips RLlib's per-minibatch bookkeeping."""

    def apply_gradients(self, gradients_dict: dict[Any, torch.Tensor]) -> None:
        """RLlib's loop (a setting the lean loop leaves to it): one fused finiteness
        check instead of a per-tensor one; nan/inf gradients go to RLlib's own handling."""
        if not self._plain_step_possible(gradients_dict):
            return super().apply_gradients(gradients_dict)
        for pid, grad in gradients_dict.items():
            self._params[pid].grad = grad
        for module_id, optimizer_names in self._module_optimizers.items():
            for name in optimizer_names:
                self.get_optimizer(module_id, name).step()

    def _plain_step_possible(self, gradients_dict: dict[Any, torch.Tensor]) -> bool:
        """No lr-scheduler classes, no grad scaler, and every gradient finite."""
        if self._lr_scheduler_classes is not None or self._grad_scalers is not None:
            return False
        grads = [g for g in gradients_dict.values() if g is not None]
        if len(grads) != len(gradients_dict):
            return False
        return bool(torch.isfinite(torch.stack(torch._foreach_norm(grads))).all())

    # -- the lean update ------------------------------------------------------

    def update(self, *args: Any, **kwargs: Any) -> Any:
        if args or not self._lean_update_possible(kwargs):
            return super().update(*args, **kwargs)
        return self._lean_update(**kwargs)

    def _lean_update_possible(self, kwargs: dict[str, Any]) -> bool:
        if set(kwargs) - LEAN_KWARGS:
            return False
        data = kwargs.get("training_data")
        if not isinstance(data, TrainingData) or data.data_iterators or data.batches:
            return False
        if not kwargs.get("minibatch_size") or len(self.module) != 1:
            return False
        (module_id,) = self.module.keys()
        config = self.config.get_config_for_module(module_id)
        return not (
            config.use_kl_loss
            or config.num_learners > 1
            or config.grad_clip_by != "global_norm"
            or self.module[module_id].is_stateful()
            or self._lr_scheduler_classes is not None
            or self._grad_scalers is not None
        )

    def _lean_update(
        self,
        *,
        training_data: TrainingData,
        timesteps: dict[str, Any] | None = None,
        num_epochs: int = 1,
        minibatch_size: int,
        shuffle_batch_per_epoch: bool = False,
    ) -> Any:
        """Learner.update for one module: the same steps, bookkeeping once."""
        self._check_is_built()
        self.before_gradient_based_update(timesteps=timesteps or {})
        training_data.validate()
        training_data.solve_refs()
        self._weights_seq_no += 1
        batch = self._make_batch_if_necessary(training_data=training_data)
        (module_id,) = batch.policy_batches.keys()
        rows = batch.policy_batches[module_id]
        plan = cyclic_minibatches(
            len(rows), minibatch_size, num_epochs, shuffle_batch_per_epoch and num_epochs > 1
        )
        module = self.module[module_id].unwrapped()
        module.train()
        columns = {k: rows[k] for k in (*LOSS_COLUMNS, Columns.LOSS_MASK) if k in rows}
        coefficients = self._coefficients(module_id)
        for indices in plan:
            index = torch.from_numpy(indices).to(self._device)
            minibatch = {k: v.index_select(0, index) for k, v in columns.items()}
            terms = ppo_loss(module, minibatch, coefficients)
            global_norm = self._gradient_step(module_id, terms.total)
        self._log_update(module_id, batch, rows, len(plan), minibatch_size, terms, global_norm)
        self.after_gradient_based_update(timesteps=timesteps or {})
        return self.metrics.reduce()

    def _coefficients(self, module_id: str) -> PPOCoefficients:
        config = self.config.get_config_for_module(module_id)
        return PPOCoefficients(
            clip_param=config.clip_param,
            vf_loss_coeff=config.vf_loss_coeff,
            entropy_coeff=self.entropy_coeff_schedulers_per_module[module_id].get_current_value(),
            vf_clip_param=config.vf_clip_param,
        )

    def _gradient_step(self, module_id: str, loss: torch.Tensor) -> torch.Tensor:
        """Backward, clip by the global norm, Adam: TorchLearner's step for one module."""
        (optimizer,) = [opt for _, opt in self.get_optimizers_for_module(module_id)]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
        config = self.config.get_config_for_module(module_id)
        norms = torch._foreach_norm(grads, 2.0)
        global_norm = torch.norm(torch.stack(norms), 2.0)
        if not bool(torch.isfinite(global_norm)):
            # RLlib's path: its norm clamps inf, it zeroes nan/inf entries and logs it.
            gradients = self.postprocess_gradients({pid: p.grad for pid, p in self._params.items()})
            TorchLearner.apply_gradients(self, gradients)
            return global_norm
        if config.grad_clip:
            # as ray.rllib.utils.torch_utils.clip_gradients(grad_clip_by="global_norm")
            coeff = config.grad_clip / torch.clamp(global_norm + 1e-6, min=config.grad_clip)
            torch._foreach_mul_(grads, torch.clamp(coeff, max=1.0))
        optimizer.step()
        return global_norm

    def _log_update(
        self,
        module_id: str,
        batch: Any,
        rows: Any,
        steps: int,
        minibatch_size: int,
        last: PPOLossTerms,
        global_norm: torch.Tensor,
    ) -> None:
        """The metrics RLlib's update logs, each once: window-1 values from the last
        minibatch, sums over all `steps` minibatches."""
        log = self.metrics.log_value
        log((module_id, WEIGHTS_SEQ_NO), self._weights_seq_no, window=1)
        if WEIGHTS_SEQ_NO in rows:
            lag = (self._weights_seq_no - rows[WEIGHTS_SEQ_NO]).float()
            lag = masked_mean_of(rows)(lag)  # as TorchLearner._compute_off_policyness
            log((module_id, DIFF_NUM_GRAD_UPDATES_VS_SAMPLER_POLICY), lag, window=1)
        self.metrics.log_dict(loss_stats(last), key=module_id, window=1)
        log((module_id, self.TOTAL_LOSS_KEY), last.total.detach(), window=1)
        if self.config.get_config_for_module(module_id).grad_clip:
            log((module_id, "gradients_default_optimizer_global_norm"), global_norm, window=1)
        module_rows, env_steps = steps * minibatch_size, steps * batch.env_steps()
        log((module_id, MODULE_TRAIN_BATCH_SIZE_MEAN), minibatch_size, reduce="mean")
        log((module_id, NUM_MODULE_STEPS_TRAINED), module_rows, reduce="sum")
        for key, value in (
            ((module_id, NUM_MODULE_STEPS_TRAINED_LIFETIME), module_rows),
            ((ALL_MODULES, NUM_MODULE_STEPS_TRAINED_LIFETIME), module_rows),
            ((ALL_MODULES, NUM_ENV_STEPS_TRAINED_LIFETIME), env_steps),
        ):
            log(key, value, reduce="lifetime_sum", with_throughput=True)
        log(
            (ALL_MODULES, NUM_MODULE_STEPS_TRAINED), module_rows, reduce="sum", with_throughput=True
        )
        log((ALL_MODULES, NUM_ENV_STEPS_TRAINED), env_steps, reduce="sum", with_throughput=True)
        self._metrics_all_modules_num_env_steps_trained.inc(value=env_steps)
        self._metrics_all_modules_num_module_steps_trained.inc(value=module_rows)
