"""One substrate as batched arrays, agents on the batch axis, and the study's episode metrics.

Two engines behind one interface (engines.make_env): Melting Pot itself (pool.BatchedEnv
over instance.EnvRunner: every substrate, the truth) and the fast commons_harvest
(fast.env.FastBatchedEnv: torch, B worlds at once, validated against Melting Pot).
metrics: per-episode return, Gini, depletion, zaps; pettingzoo: the PettingZoo view.
"""
