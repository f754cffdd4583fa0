"""Episode videos: one policy in every seat (a member's checkpoint, an exported policy, or
uniform random play), the world as `WORLD.RGB` shows it, each player's return so far
written under the picture beside a swatch of its avatar's colour. MP4 (OpenCV) or GIF
(Pillow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import cv2
import numpy as np

from popbased.env.instance import EnvRunner
from popbased.errors import BadInput
from popbased.play.agents import SeatView, agent_for
from popbased.substrates import entry, resolve

SUFFIXES = (".mp4", ".gif")
ROW = 18  # pixels per line of the returns band


class Seats:
    """Actions for every seat of the arena from one source; `size` is the view it reads."""

    def __init__(self, size: int, act: Callable[[np.ndarray], np.ndarray], label: str,
                 done: Callable[[np.ndarray], None] | None = None):
        self.size, self.act, self.label, self.done = size, act, label, done or (lambda d: None)


def seats_for(policy: str | Path | None, arena_actions, seed: int, label: str) -> Seats:
    """Random play (None), a checkpoint file or an export folder in every seat (all arena
    actions legal)."""
    agent = agent_for(None if policy is None else str(policy), arena_actions, seed=seed)
    legal = np.ones((1, len(arena_actions)), bool)
    return Seats(agent.obs_size or 11, lambda rgb: agent.act(SeatView(rgb, np.repeat(legal, len(rgb), 0))),
                 label, agent.observe_done)


def _band(width: int, returns: np.ndarray, palette, step: int, label: str) -> np.ndarray:
    per_row = max(1, width // 110)
    rows = 1 + -(-len(returns) // per_row)
    band = np.zeros((rows * ROW + 4, width, 3), np.uint8)
    cv2.putText(band, f"{label}  step {step}", (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                cv2.LINE_AA)
    for p, value in enumerate(returns):
        x, y = 4 + (p % per_row) * 110, (1 + p // per_row) * ROW + 2
        colour = tuple(int(c) for c in palette[p % len(palette)])
        cv2.rectangle(band, (x, y), (x + 10, y + 10), colour, -1)
        cv2.rectangle(band, (x, y), (x + 10, y + 10), (255, 255, 255), 1)
        cv2.putText(band, f"P{p + 1} {value:.0f}", (x + 14, y + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return band


def check_output(output: str | Path, force: bool) -> Path:
    path = Path(output)
    if path.suffix.lower() not in SUFFIXES:
        raise BadInput(f"-o {output}: write a .mp4 or .gif file")
    if path.exists() and not force:
        raise BadInput(f"-o {output} exists; add --force to overwrite it")
    return path


def episode(substrate: str, params: Mapping[str, Any] | None, make_seats: Callable[[Any], Seats], *,
            steps: int | None, seed: int, scale: int,
            progress: Callable[[int], None] | None = None) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Plays one episode; returns its frames (RGB, returns band included) and its summary."""
    # deferred: a Melting Pot module, loaded once the caller has resolved the substrate (which
    # registers Melting Pot's package without TensorFlow: substrates.meltingpot_loader)
    from meltingpot.utils.substrates import colors

    spec = resolve(substrate, params)
    # avatar colours: commons_harvest paints players from `human_readable`, most others `palette`
    palette = colors.human_readable if entry(substrate).takes_params else colors.palette
    seats = make_seats(spec.action_names)
    runner = EnvRunner(spec, np.random.default_rng(seed), max_episode_steps=steps)
    players = spec.num_players
    rgb = np.zeros((players, seats.size, seats.size, 3), np.uint8)
    ready = np.zeros(players, np.float32)
    rewards = np.zeros((players, len(runner.components)), np.float32)
    reward = runner.column["reward"]
    returns = np.zeros(players)
    frames: list[np.ndarray] = []

    def frame(t):
        world = runner.instance.world_rgb()
        world = cv2.resize(world, (world.shape[1] * scale, world.shape[0] * scale),
                           interpolation=cv2.INTER_NEAREST)
        frames.append(np.vstack([world, _band(world.shape[1], returns, palette, t, seats.label)]))

    runner.begin(rgb, ready)
    frame(0)
    summary = None
    while summary is None:
        summary = runner.step(seats.act(rgb), rgb, ready, rewards)
        returns += rewards[:, reward]
        frame(len(frames))
        seats.done(np.full(players, summary is not None))
        if progress:
            progress(len(frames) - 1)
    runner.close()
    return frames, summary


def write(frames: list[np.ndarray], path: Path, fps: int) -> None:
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    if path.suffix.lower() == ".gif":
        from PIL import Image  # deferred: only for GIFs

        images = [Image.fromarray(f) for f in frames]
        images[0].save(tmp, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    else:
        height, width = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if not writer.isOpened():
            raise BadInput(f"-o {path}: OpenCV cannot write MP4 here; try a .gif")
        for f in frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        writer.release()
    tmp.replace(path)
