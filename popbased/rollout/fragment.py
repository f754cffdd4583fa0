"""Fragment: what one round of collection gives the learners (the Collector builds it once;
nothing downstream changes it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from popbased.ppo.batch import Batch


@dataclass(frozen=True)
class Fragment:
    batches: Mapping[str, Batch]
    """member -> the batch of every seat it played this round (frozen players have none)."""
    episodes: tuple[dict[str, Any], ...]
    """Summaries of the episodes that ended (the study's metrics, with the env, its seats'
    members, the match in league play, and the worker)."""
    timing: Mapping[str, float]
    """Seconds stepping envs, in inference, in total, summed over workers; steps."""
    dropped: tuple[str, ...] = field(default=())
    """Members whose batch was not learned from (an evaluation round, or a learner that was
    replaced since the batch was collected)."""
