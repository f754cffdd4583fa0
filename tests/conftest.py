"""Shared fixtures and helpers: a real local Ray for the session, the CLI as a user runs it,
the tiny league file and the synthetic learner batches several test modules use."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
POPS = ROOT / "populations"
ACTIONS = ("NOOP", "FORWARD", "BACKWARD", "STEP_LEFT", "STEP_RIGHT", "TURN_LEFT", "TURN_RIGHT",
           "FIRE_ZAP")
COMPONENTS = ("reward", "zap_hits", "zapped", "others_reward")

@pytest.fixture(scope="session")
def ray_local():
    """One real local Ray for the whole session (2 CPUs, like CI's machine)."""
    import ray

    from popbased.rollout.cluster import ensure_ray

    info = ensure_ray(num_cpus=2)
    yield info
    ray.shutdown()


def popbased(cwd, *args, timeout=600):
    """`popbased ARGS...` in a fresh process, as a user runs it (in folder `cwd`)."""
    return subprocess.run([sys.executable, "-m", "popbased.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout)


def one_line_error(result, text, ignore: str | None = None):
    """Bad input: exit 2 and one line on stderr (lines containing `ignore` aside) with `text`."""
    lines = [l for l in result.stderr.splitlines() if l.strip() and not (ignore and ignore in l)]
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and text in lines[0], result.stderr


def tiny_league(tmp_path, steps=1500, evaluation=0) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(f'''[league]
name = "tiny"
populations = ["{POPS / 'open.toml'}", "{POPS / 'no_zap.toml'}"]
arena = "open"
size = 2
steps_per_generation = {steps}
episode_steps = 100

[snapshots]
keep = 1

[evaluation]
episodes = {evaluation}
''')
    return path


def make_learner(lstm=0, **ppo):
    """Learner m0 over ACTIONS on 11x11 views, on the CPU, seeded; `ppo` overrides PPOConfig."""
    from popbased.ppo.config import NetConfig, PPOConfig
    from popbased.ppo.learner import Learner

    return Learner("m0", 11, ACTIONS, net=NetConfig(lstm=lstm),
                   config=PPOConfig(minibatch_size=40, bptt=10, **ppo), device="cpu", seed=3)


def learner_weights(learner) -> list:
    """A copy of the learner's parameters (to compare with later)."""
    return [p.detach().clone() for p in learner.policy.parameters()]


def same_weights(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def make_batch(steps=20, seats=6, lstm=0, bptt=10, seed=0, member="m0"):
    from popbased.ppo.batch import Batch

    rng = np.random.default_rng(seed)
    masks = np.ones((steps, seats, 8), dtype=bool)
    masks[:, 0, 7] = False
    actions = rng.integers(0, 7, (steps, seats))
    dones = rng.random((steps, seats)) < 0.05
    starts = np.vstack([np.ones((1, seats), bool), dones[:-1]])
    return Batch(member=member, components=COMPONENTS,
                 obs=rng.integers(0, 256, (steps, seats, 11, 11, 3), dtype=np.uint8),
                 actions=actions, logp=np.full((steps, seats), np.log(1 / 8), np.float32),
                 values=rng.normal(size=(steps, seats)).astype(np.float32),
                 rewards=(rng.random((steps, seats, 4)) < 0.2).astype(np.float32),
                 dones=dones, starts=starts, masks=masks,
                 last_value=np.zeros(seats, np.float32),
                 states=(np.zeros((-(-steps // bptt), seats, 2, lstm), np.float32) if lstm else None))
