"""The report application: a sweep's trial records -> tables, figures and report.md.

python -m rbrl_ray.report STORAGE/NAME [--out DIR] [--wandb]
"""
