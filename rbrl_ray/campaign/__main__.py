from rbrl_ray.campaign.cli import PROG, main
from rbrl_ray.cli import run_main

run_main(main, PROG)
