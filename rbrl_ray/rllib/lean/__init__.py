"""The speed layer: RLlib's PPO update loop, EnvRunner rollout loop and connector
pieces, and a vector of dm_control envs, each computing the same numbers as RLlib's
and gymnasium's own with less per-step and per-minibatch overhead (BENCHMARKS.md).

They reach into RLlib's private members, so they are proven on one Ray version
(`rllib/lean_switches.py`, LEAN_PROVEN_ON) and covered there by bit-for-bit
equality tests (tests/test_lean_update.py, test_connectors.py, test_sampler.py).
Nothing here knows the reward add-on; the add-on reaches this package only
through `rllib/lean_switches.py`.
"""
