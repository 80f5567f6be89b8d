"""The RLlib add-on: reward relabelling learner connector, rating service actor,
callbacks, and RatingPPO with its config (built from an experiment spec)."""
