"""The RLlib add-on: reward relabelling learner connector, rating service actor,
callbacks, and the PPO config builder for the six methods."""
