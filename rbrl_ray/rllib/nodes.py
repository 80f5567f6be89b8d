"""Which Ray node each piece of a trial ran on, in every result: the trial process
(the algorithm and its local learner), its EnvRunners and its rating service. On a
cluster this is how a run shows its placement, and how a test checks it."""

from __future__ import annotations

from typing import Any

import ray

TRIAL_NODE = "nodes/trial"
ENV_RUNNER_NODES = "nodes/env_runners"  # comma-separated, one per remote EnvRunner
SERVICE_NODE = "nodes/rating_service"


def this_node() -> str:
    return ray.get_runtime_context().get_node_id()


def trial_nodes(algo: Any) -> dict[str, str]:
    """The node ids of the trial's pieces (EnvRunners: the trial's own node if it
    samples in its process; the service: none with method ppo)."""
    group = algo.env_runner_group
    if group.num_remote_env_runners() > 0:
        runners = group.foreach_env_runner(lambda _: this_node(), local_env_runner=False)
    else:
        runners = [this_node()]
    nodes = {TRIAL_NODE: this_node(), ENV_RUNNER_NODES: ",".join(runners)}
    if algo.service is not None:
        nodes[SERVICE_NODE] = algo.service.call("node")
    return nodes
