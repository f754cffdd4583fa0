"""One Lab2d instance of a substrate, stepped with integer actions, read without wrappers.

This is the hot path: it talks to `dmlab2d.Lab2d` directly (no dm_env wrappers, no
reactive observables, no WORLD.RGB unless asked), downsamples each player's RGB with
OpenCV's area filter and keeps the episode's metrics.
"""

from __future__ import annotations

from typing import Any

import cv2
import dmlab2d
import numpy as np
from dmlab2d import runfiles_helper

from popbased.env.fast.ceiling import patch_apples, patch_index
from popbased.env.fast.maps import build_map
from popbased.env.metrics import EpisodeTracker
from popbased.env.social import SOCIAL_COMPONENTS, SocialTraces
from popbased.errors import BadInput
from popbased.substrates.params import CommonsParams
from popbased.substrates.spec import Lab2dSpec

_RUNFILES = runfiles_helper.find()

# Reward components every substrate reports, then those only instrumented ones do.
BASE_COMPONENTS = ("reward", "zap_hits", "zapped", "others_reward")
INSTRUMENTED_COMPONENTS = ("zaps_fired",)
VIEW_COMPONENTS = ("apples_in_view", "farmer")
# Components only the fast env counts (it sees the world's state; Melting Pot's events do not).
FAST_COMPONENTS = ("last_apples",)
LAST_APPLES_BELOW = 3
"""An eaten apple is one of the `last_apples` when fewer than this many live apples are within
radius 2 of it: it then regrows with p <= 0.005 per step instead of 0.025 (none at 0)."""


def wants_apples_in_view(spec: Lab2dSpec, requested: bool | None) -> bool:
    """Whether to count apples in view (a cost per player and step): only when used."""
    if requested is None:
        return spec.farmer_weight > 0
    return bool(requested) and spec.instrumented


def wants_social(spec: Lab2dSpec) -> bool:
    """Whether the variant reports the social-preference components (`social=true`)."""
    return spec.params is not None and spec.params.social


def component_names(spec: Lab2dSpec, apples_in_view: bool | None = None,
                    fast: bool = False) -> tuple[str, ...]:
    """Names of the reward components of `spec`, in the order of the rewards' last axis.

    reward: the substrate's own reward (apples in commons_harvest), never shaped;
    zap_hits / zapped: zap hits given / received this step; others_reward: the sum of
    the other players' rewards; farmer: farmer_weight x apples_in_view; apples_in_view:
    live apples in the player's view; zaps_fired: beams fired this step; last_apples (the fast
    env only, `fast=True`): apples eaten with fewer than LAST_APPLES_BELOW live apples within
    radius 2 (the study's farmer idea, "leave the last apple to regrow", as a penalty gene);
    disadvantageous_inequity / advantageous_inequity / svo_distance (both engines, only when
    the variant sets social=true, before the fast-only ones): inequity aversion and the SVO
    angle's distance over smoothed rewards (popbased.env.social).
    """
    names = BASE_COMPONENTS + (INSTRUMENTED_COMPONENTS if spec.instrumented else ())
    names += VIEW_COMPONENTS if wants_apples_in_view(spec, apples_in_view) else ()
    names += SOCIAL_COMPONENTS if wants_social(spec) else ()
    return names + (FAST_COMPONENTS if fast and spec.instrumented else ())


def parse_events(raw: list) -> tuple[list[int], list[tuple[int, int]]]:
    """Lab2d events -> (players who ate, [(zapper, zapped)]), all 0-based."""
    eaten: list[int] = []
    zaps: list[tuple[int, int]] = []
    for name, payload in raw:
        if name == "edible_consumed":
            fields = dict(zip(payload[1::2], payload[2::2]))
            eaten.append(int(fields[b"player_index"]) - 1)
        elif name == "zap":
            fields = dict(zip(payload[1::2], payload[2::2]))
            zaps.append((int(fields[b"source"]) - 1, int(fields[b"target"]) - 1))
    return eaten, zaps


def downsample(frames: np.ndarray, out: np.ndarray) -> None:
    """Players' views [players, 88, 88, 3] -> out [players, s, s, 3] with OpenCV's area filter
    (the observation preprocessing of every popbased policy, exported ones included)."""
    players, size, full = out.shape[0], out.shape[1], frames.shape[1]
    if size == full:
        out[:] = frames
    elif full % size == 0:
        tall = frames.reshape(players * full, full, 3)
        out[:] = cv2.resize(tall, (size, players * size), interpolation=cv2.INTER_AREA).reshape(out.shape)
    else:
        for p in range(players):
            out[p] = cv2.resize(frames[p], (size, size), interpolation=cv2.INTER_AREA)


STATE = "WORLD.POPBASED_STATE"
"""The world state popbased's StateDump observer reports (specs built with state_dump)."""


def state_size(spec: Lab2dSpec) -> int:
    """Length of `spec`'s WORLD.POPBASED_STATE; BadInput when its settings lack the observer."""
    dump = [key[:-len("component")] for key, value in spec.settings.items()
            if key.endswith(".component") and value == "StateDump"]
    if not dump:
        raise BadInput(f"{spec.name}: built without popbased's StateDump observer (the world "
                       f"state), which only commons_harvest specs built with state_dump have")
    players = int(float(spec.settings[dump[0] + "kwargs.numPlayers"]))
    apples = int(float(spec.settings[dump[0] + "kwargs.numApples"]))
    return 1 + 5 * players + 5 * apples


APPLES_LIVE = "WORLD.APPLES_LIVE"
"""Each apple's live flag (row-major order of their cells), reported by popbased's AppleCounter
where its settings give numApples (commons_harvest specs)."""


def apple_patches(spec: Lab2dSpec) -> np.ndarray | None:
    """[A] int64: the patch of each apple of `spec`'s map (`popbased.env.fast.ceiling`'s
    patches, the apples in WORLD.APPLES_LIVE's order), or None where the spec's world does not
    report each apple (not a commons_harvest spec, or built without it)."""
    counters = [key[:-len("component")] for key, value in spec.settings.items()
                if key.endswith(".component") and value == "AppleCounter"]
    if not (spec.instrumented and isinstance(spec.params, CommonsParams) and counters
            and float(spec.settings.get(counters[0] + "kwargs.numApples", 0)) > 0):
        return None
    return patch_index(build_map(spec.params))


class Instance:
    """A built Lab2d environment for one episode at a time."""

    def __init__(self, spec: Lab2dSpec, env_seed: int):
        settings = dict(spec.settings)
        settings["env_seed"] = str(env_seed)
        self.spec = spec
        self.lab = dmlab2d.Lab2d(_RUNFILES, settings)
        names = self.lab.action_discrete_names()
        keys = sorted({key for action in spec.action_table for key in action})
        players = range(1, spec.num_players + 1)
        self._act_index = np.array([[names.index(f"{p}.{k}") for k in keys] for p in players])
        self._act_table = np.array([[a.get(k, 0) for k in keys] for a in spec.action_table],
                                   dtype=np.int32)
        self._act = np.zeros(len(names), dtype=np.int32)
        self._names = {kind: [f"{p}.{kind}" for p in players]
                       for kind in ("RGB", "REWARD", "READY_TO_SHOOT", "APPLES_IN_VIEW", "ZAPS_FIRED")}
        available = set(self.lab.observation_names())
        self.has_ready = all(n in available for n in self._names["READY_TO_SHOOT"])
        self._frames: np.ndarray | None = None

    def start(self, episode: int, seed: int) -> None:
        self.lab.start(episode, seed)

    def act(self, actions: np.ndarray) -> bool:
        """Applies one action per player; returns True when the episode ended."""
        self._act[self._act_index] = self._act_table[actions]
        self.lab.act_discrete(self._act)
        status, _ = self.lab.advance()
        return status != dmlab2d.RUNNING

    def scalars(self, kind: str) -> np.ndarray:
        obs = self.lab.observation
        return np.array([obs(n) for n in self._names[kind]], dtype=np.float64)

    def rgb(self, out: np.ndarray) -> None:
        """Writes each player's RGB into out [players, s, s, 3], area-downsampled if s < 88
        (the players' frames stacked into one tall image and resized in one call: when 88 is
        a multiple of s no output pixel straddles two players' frames)."""
        players = out.shape[0]
        obs = self.lab.observation
        if self._frames is None:
            first = obs(self._names["RGB"][0])
            self._frames = np.empty((players,) + first.shape, dtype=np.uint8)
        for p, name in enumerate(self._names["RGB"]):
            self._frames[p] = obs(name)
        downsample(self._frames, out)

    def world_apples(self) -> float:
        return float(self.lab.observation("WORLD.APPLES"))

    def world_patch_apples(self, index: np.ndarray) -> np.ndarray:
        """[patches] live apples of each patch; index: `apple_patches(spec)`."""
        return patch_apples(index, self.lab.observation(APPLES_LIVE))

    def world_rgb(self) -> np.ndarray:
        return np.array(self.lab.observation("WORLD.RGB"), dtype=np.uint8)

    def observation(self, name: str) -> Any:
        return self.lab.observation(name)

    def close(self) -> None:
        self.lab = None  # Lab2d has no close(); dropping it frees the Lua state


class EnvRunner:
    """Runs episodes of one substrate back to back and writes each step into given arrays.

    Used in-process (`backend='inline'`) and inside each worker process of the pool.
    Each episode gets a freshly built Lab2d instance, as Melting Pot's own reset does.
    """

    def __init__(self, spec: Lab2dSpec, rng: np.random.Generator, *, series_every: int = 100,
                 useful_zap_window: int = 20, apples_in_view: bool | None = None,
                 max_episode_steps: int | None = None):
        self.spec = spec
        self.max_episode_steps = max_episode_steps
        self.rng = rng
        self.components = component_names(spec, apples_in_view)
        self.in_view = wants_apples_in_view(spec, apples_in_view)
        self.column = {name: i for i, name in enumerate(self.components)}
        self.tracker = EpisodeTracker(spec.num_players, series_every=series_every,
                                      useful_zap_window=useful_zap_window,
                                      counts_zaps_fired=spec.instrumented)
        self.patches = apple_patches(spec)
        self.social = (SocialTraces(spec.num_players, spec.params.inequity_decay, spec.params.svo_angle)
                       if wants_social(spec) else None)
        self.instance: Instance | None = None
        self.state: np.ndarray | None = None
        """Where to write each observation's world state (STATE), when the owner sets it."""
        self.episode = 0
        self._ready_before = None
        self._fired_before = None

    def begin(self, rgb: np.ndarray, ready: np.ndarray) -> None:
        """Builds and starts a new episode; writes its first observation."""
        if self.instance is not None:
            self.instance.close()
        self.instance = Instance(self.spec, int(self.rng.integers(1, 2**31 - 1)))
        self.instance.start(self.episode, int(self.rng.integers(0, 2**31 - 1)))
        self.episode += 1
        self.tracker.reset(self.instance.world_apples() if self.spec.instrumented else None,
                           self._patch_apples())
        self._fired_before = np.zeros(self.spec.num_players)
        if self.social is not None:
            self.social.reset()
        self._observe(rgb, ready)

    def _patch_apples(self) -> np.ndarray | None:
        return None if self.patches is None else self.instance.world_patch_apples(self.patches)

    def _observe(self, rgb: np.ndarray, ready: np.ndarray) -> None:
        self.instance.rgb(rgb)
        if self.state is not None:
            self.state[:] = self.instance.observation(STATE)
        ready[:] = self.instance.scalars("READY_TO_SHOOT") if self.instance.has_ready else 1.0

    def step(self, actions: np.ndarray, rgb: np.ndarray, ready: np.ndarray,
             rewards: np.ndarray) -> dict | None:
        """One step; fills rgb/ready/rewards [players, C]; returns the summary at episode end."""
        inst = self.instance
        done = inst.act(actions)
        reward = inst.scalars("REWARD")
        eaten, zaps = parse_events(inst.lab.events())
        col = self.column
        rewards[:] = 0.0
        rewards[:, col["reward"]] = reward
        for source, target in zaps:
            rewards[source, col["zap_hits"]] += 1
            rewards[target, col["zapped"]] += 1
        rewards[:, col["others_reward"]] = reward.sum() - reward
        if self.social is not None:
            for k, value in zip(SOCIAL_COMPONENTS, self.social.update(reward).T):
                rewards[:, col[k]] = value
        fired = apples = None
        components = None
        if self.spec.instrumented:
            total_fired = inst.scalars("ZAPS_FIRED")
            fired = total_fired - self._fired_before
            self._fired_before = total_fired
            rewards[:, col["zaps_fired"]] = fired
            apples = inst.world_apples()
        if self.in_view:
            in_view = inst.scalars("APPLES_IN_VIEW")
            rewards[:, col["apples_in_view"]] = in_view
            rewards[:, col["farmer"]] = self.spec.farmer_weight * in_view
            if self.spec.farmer_weight:
                components = {"farmer": self.spec.farmer_weight * in_view}
        self.tracker.update(reward, eaten, zaps, fired, apples, components, self._patch_apples())
        truncated = (not done and self.max_episode_steps is not None
                     and self.tracker.step_count >= self.max_episode_steps)
        if not (done or truncated):
            self._observe(rgb, ready)
            return None
        return {**self.tracker.summary(), "truncated": truncated}

    def close(self) -> None:
        if self.instance is not None:
            self.instance.close()
            self.instance = None
