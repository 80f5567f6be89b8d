from rbrl_ray.cli import run_main
from rbrl_ray.report.cli import PROG, main

run_main(main, PROG)
