"""The offline reward-fidelity benchmark: no RL, only the reward-learning question.

python -m rbrl_ray.reward_bench --env cartpole-balance --classes 3
"""
