"""Playing episodes outside training: agents in seats (agents: random play, a checkpoint, an
exported policy, one protocol), episodes with the study's metrics (episodes.random_play),
and episode videos (render)."""

from popbased.play.episodes import random_play

__all__ = ["random_play"]
