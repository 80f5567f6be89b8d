"""Test-only learners that record what GAE was given (a probe after GAE)."""

from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.learner import GeneralAdvantageEstimation
from ray.rllib.core import Columns
from ray.rllib.utils.numpy import convert_to_numpy

from rbrl_ray.rllib.episodes import learner_steps
from rbrl_ray.rllib.relabel import RatingRewardLearner, with_bootstrap_rows


class RewardProbe(ConnectorV2):
    """Records the REWARDS column after GAE next to the episodes' true rewards and
    the reward the relabeller's model gives the same steps."""

    def __init__(self, relabeller=None, **kwargs):
        super().__init__(**kwargs)
        self.relabeller = relabeller
        self.records = []

    def __call__(self, *, batch, episodes, **kwargs):
        obs, act, true, lengths = learner_steps(list(self.single_agent_episode_iterator(episodes)))
        record = {"lengths": lengths, "true": with_bootstrap_rows(true, lengths)}
        (module_id,) = batch.keys()
        record["rewards"] = convert_to_numpy(batch[module_id][Columns.REWARDS])
        record["has_advantages"] = Columns.ADVANTAGES in batch[module_id]
        if self.relabeller is not None:
            record["phase"] = self.relabeller.phase
            record["version"] = self.relabeller.key[1]
            expected = self.relabeller.rewards_for(obs, act)
            record["expected"] = with_bootstrap_rows(expected, lengths)
        self.records.append(record)
        return batch


class ProbedRatingLearner(RatingRewardLearner):
    def build(self):
        super().build()
        self.probe = RewardProbe(relabeller=self.relabeller)
        self._learner_connector.insert_after(GeneralAdvantageEstimation, self.probe)


class ProbedPPOLearner(PPOTorchLearner):
    def build(self):
        super().build()
        self.probe = RewardProbe()
        self._learner_connector.insert_after(GeneralAdvantageEstimation, self.probe)


def on_learner(algo, fn):
    """fn(learner) on the algorithm's (local) learner."""
    (result,) = list(algo.learner_group.foreach_learner(fn))
    return result.get()
