"""Rollout workers (Ray actors) and the collector that runs them."""
