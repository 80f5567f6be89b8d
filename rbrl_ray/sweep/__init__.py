"""The sweep application: a YAML grid of trials run by Ray Tune, logged to W&B.

python -m rbrl_ray.sweep --config tune_configs/smoke.yaml
"""
