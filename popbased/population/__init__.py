"""Populations per variant: their TOML specs (and, next, members, PBT and lineage)."""
