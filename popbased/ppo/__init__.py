"""PPO: policy network, learner, losses, checkpoints."""
