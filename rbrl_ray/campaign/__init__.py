"""A campaign of record: tiers of trials from one YAML, run in pieces, each finished
trial's compact record kept under results/ (see `python -m rbrl_ray.campaign -h`)."""
