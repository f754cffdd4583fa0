"""FastBatchedEnv: B commons_harvest worlds in torch behind BatchedEnv's interface.

    env = FastBatchedEnv(resolve("no_zap"), num_envs=1024, seed=0, device="cuda")
    obs = env.reset()                  # Observation, numpy, as BatchedEnv's
    out = env.step(actions)            # StepResult: rewards [seats, C], done, episodes
    out = env.step_tensors(actions_t)  # the same on the env's device, no numpy round trip

Seats are env-major (seat = env * players + player). A world whose episode ends is
reset in the same step by tensor writes: `done` marks the last reward of the old
episode and the observation is the new episode's first, as in BatchedEnv. Rewards,
component names, action masks and episode summaries are BatchedEnv's
(popbased.env.instance.component_names, popbased.env.metrics); the views are 11x11.

Host syncs per step_tensors on a GPU: the world step's one read (world.py's docstring), which
also carries whether the tracker records its series and whether a world reaches
max_episode_steps; one rejection round per respawning step; and, only on steps where an
episode may end (from step 1,000 every 100 steps, at 5,000, at max_episode_steps), one read of
`done` and `truncated`, then the summaries' reads where one did end. Rewards, the tracker's
update and the views read nothing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from popbased.devices import sync
from popbased.env.fast import social
from popbased.env.fast.ceiling import patch_index, patches
from popbased.env.fast.maps import DIRECTIONS, build_map
from popbased.env.fast.tracker import BatchTracker
from popbased.env.fast.views import Renderer
from popbased.env.fast.world import MAX_STEPS, World
from popbased.env.instance import LAST_APPLES_BELOW, component_names, wants_apples_in_view, wants_social
from popbased.env.pool import Observation, StepResult
from popbased.env.seats import SeatActions
from popbased.env.social import SOCIAL_COMPONENTS
from popbased.errors import BadInput
from popbased.substrates.params import CommonsParams
from popbased.substrates.spec import Lab2dSpec


@dataclass
class TensorStep:
    """StepResult's fields as tensors on the env's device."""

    rgb: torch.Tensor  # [seats, 11, 11, 3] uint8 (a strided view: pixels 4 bytes apart)
    ready_to_shoot: torch.Tensor  # [seats] float32
    rewards: torch.Tensor  # [seats, C] float32
    done: torch.Tensor  # [seats] bool
    episodes: list[dict[str, Any]] = field(default_factory=list)


class FastBatchedEnv(SeatActions):
    """See the module docstring."""

    def __init__(self, spec: Lab2dSpec, num_envs: int = 1, *, seed: int = 0, device="cpu",
                 obs_size: int = 11, apples_in_view: bool | None = None,
                 max_episode_steps: int | None = None, series_every: int = 100,
                 useful_zap_window: int = 20, cpu_draws: bool = False):
        if not isinstance(spec.params, CommonsParams):
            raise BadInput(f"substrate {spec.name!r}: the fast env runs the commons_harvest family only")
        if num_envs < 1:
            raise BadInput(f"num_envs={num_envs}: must be >= 1")
        if obs_size != 11:
            raise BadInput(f"obs_size={obs_size}: the fast env renders 11x11 views only")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise BadInput(f"max_episode_steps={max_episode_steps}: must be >= 1")
        self.spec = spec
        self.num_envs = num_envs
        self.players = spec.num_players
        self.num_seats = num_envs * self.players
        self.obs_size = obs_size
        self.device = torch.device(device)
        self.action_names = spec.action_names
        self.num_actions = len(spec.action_names)
        self.components = component_names(spec, apples_in_view, fast=True)
        self.column = {name: i for i, name in enumerate(self.components)}
        self.in_view = wants_apples_in_view(spec, apples_in_view)
        self.action_mask = np.ones((self.num_seats, self.num_actions), dtype=bool)
        self.max_episode_steps = max_episode_steps
        self.stats = {"steps": 0, "reset_wait_s": 0.0, "episodes": 0}
        self.game = build_map(spec.params)
        if self.game.players != self.players:
            raise BadInput(f"spec has {self.players} players, its map {self.game.players}")
        self.world = World(self.game, num_envs, spec.action_table, device=self.device, seed=seed,
                           cpu_draws=cpu_draws)  # World.cpu_draws: the same draws on every device
        self.renderer = Renderer(self.world)
        shaped = ("farmer",) if self.in_view and spec.farmer_weight else ()
        self.tracker = BatchTracker(num_envs, self.players, self.device, series_every=series_every,
                                    useful_zap_window=useful_zap_window,
                                    max_steps=min(MAX_STEPS, max_episode_steps or MAX_STEPS),
                                    shaped=shaped, patches=len(patches(self.game)))
        index = torch.from_numpy(patch_index(self.game)).to(self.device)
        self._patch_matrix = torch.zeros(self.game.num_apples + 1, self.tracker.patches,
                                         dtype=torch.float32, device=self.device)
        self._patch_matrix[torch.arange(self.game.num_apples, device=self.device), index] = 1.0
        """[A + 1, patches]: 1 where an apple (a row of the world's `live`, the last one the
        never-live spare) lies in a patch; live @ it counts each patch's live apples."""
        apples = torch.from_numpy(self.game.apple_cells).to(self.device)
        self._apple_y, self._apple_x = apples[:, 0], apples[:, 1]
        self._dirs = torch.from_numpy(DIRECTIONS).to(self.device)
        self.social = wants_social(spec)
        self._traces = torch.zeros(num_envs, self.players, dtype=torch.float32, device=self.device)
        """[B, P] smoothed rewards behind the social components (popbased.env.social), zeroed
        in the step a world's episode ends."""
        self._observers: torch.Tensor | None = None
        """[B, P, P] each player's own traces of everyone, once `set_social` gave per-seat
        parameters (then they replace `_traces`)."""
        self._social_params: tuple[torch.Tensor, torch.Tensor] | None = None
        self._started = False
        self._scripted = None  # popbased.env.fast.scripted.Scripted, made on first use
        self._pending: torch.Tensor | None = None
        self.timings: dict[str, float] = {}
        """Seconds spent in each part of step_tensors, summed over steps (world_step,
        rewards_metrics, episode_ends, views)."""
        self.exact_timings = False
        """Synchronise the device at each part boundary of step_tensors, so that on CUDA
        `timings` holds each part's GPU work rather than its launches (benches set it; each
        sync stalls the GPU's queue, so training leaves it off). Nothing changes on a CPU."""

    # ----------------------------------------------------------------- BatchedEnv API
    def reset(self) -> Observation:
        """First observations of every env (only once: later resets happen by themselves)."""
        rgb, ready = self.reset_tensors()
        return Observation(np.ascontiguousarray(rgb.cpu().numpy()), ready.cpu().numpy(), self.action_mask,
                           self.world)

    def reset_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._started:
            raise RuntimeError("FastBatchedEnv.reset() is called once; episodes restart by themselves")
        self._started = True
        everything = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        self.world.reset(everything)
        self.tracker.reset(everything, self.world.apples(), self.patch_apples())
        return self._observe()

    def step_async(self, actions: np.ndarray) -> None:
        actions = self._start_step(actions)
        self._pending = torch.from_numpy(actions.astype(np.int64)).to(self.device)

    def step_wait(self) -> StepResult:
        if self._pending is None:
            raise RuntimeError("step_wait() without step_async()")
        actions, self._pending = self._pending, None
        out = self.step_tensors(actions)
        obs = Observation(np.ascontiguousarray(out.rgb.cpu().numpy()), out.ready_to_shoot.cpu().numpy(),
                          self.action_mask, self.world)
        return StepResult(obs, out.rewards.cpu().numpy(), out.done.cpu().numpy(), out.episodes)

    def render(self, env: int = 0) -> np.ndarray:
        raise NotImplementedError("the fast env has no WORLD.RGB; render with the Melting Pot path")

    def close(self) -> None:
        pass

    def __enter__(self) -> "FastBatchedEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------- tensor path
    def step_tensors(self, actions: torch.Tensor) -> TensorStep:
        """One step from actions [seats] int64 on the env's device (not checked against
        the action mask: the caller's policy masks)."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        clock = self._synced_clock if self.exact_timings else time.perf_counter
        t0 = clock()
        w, B, P = self.world, self.num_envs, self.players
        # the world step's one host read also reads whether the tracker records its series
        # this step and whether some world reaches max_episode_steps (a truncation)
        fetch = (self.tracker.record_due(),)
        if self.max_episode_steps is not None:
            fetch += (((self.tracker.step_count + 1) >= self.max_episode_steps).any(),)
        events = self.last_events = w.step(actions.view(B, P), fetch=fetch)
        record = bool(events.fetched[0])
        may_truncate = self.max_episode_steps is not None and bool(events.fetched[1])
        t1 = clock()
        col = self.column
        rewards = torch.zeros(B, P, len(self.components), dtype=torch.float32, device=self.device)
        reward = events.reward
        rewards[..., col["reward"]] = reward
        rewards[..., col["zap_hits"]] = (events.hits >= 0).sum(-1).float()
        rewards[..., col["zapped"]] = events.zapped.float()
        rewards[..., col["others_reward"]] = reward.sum(1, keepdim=True) - reward
        if self.social:
            if self._observers is not None:  # each player's own lambda and theta (set_social)
                values = social.observer_step(self._observers, reward, *self._social_params)
            else:
                values = social.step(self._traces, reward, self.spec.params.inequity_decay,
                                     math.radians(self.spec.params.svo_angle))
            for k, name in enumerate(SOCIAL_COMPONENTS):
                rewards[..., col[name]] = values[..., k]
        if "zaps_fired" in col:
            rewards[..., col["zaps_fired"]] = events.fired.float()
        if "last_apples" in col:
            near = events.eaten_neighbours
            rewards[..., col["last_apples"]] = ((near >= 0) & (near < LAST_APPLES_BELOW)).float()
        shaped = None
        if self.in_view:
            in_view = self.apples_in_view().float()
            rewards[..., col["apples_in_view"]] = in_view
            farmer = self.spec.farmer_weight * in_view
            rewards[..., col["farmer"]] = farmer
            if self.spec.farmer_weight:
                shaped = {"farmer": self.spec.farmer_weight * in_view.double()}
        self.tracker.update(reward, events.eaten, events.hits, events.fired, w.apples(), shaped,
                            self.patch_apples(), record=record)
        t2 = clock()
        done = events.end
        truncated = torch.zeros_like(done)
        if self.max_episode_steps is not None:
            truncated = ~done & (self.tracker.step_count >= self.max_episode_steps)
            done = done | truncated
        episodes: list[dict[str, Any]] = []
        # done is read only on steps where an episode may end (then once, with truncated)
        ended = torch.stack([done, truncated]).cpu() if events.may_end or may_truncate else None
        if ended is not None and bool(ended[0].any()):
            worlds = torch.nonzero(ended[0]).flatten().tolist()
            for b, summary in self.tracker.summaries(done, self.spec.instrumented, worlds):
                episodes.append({"env": b, **summary, "truncated": bool(ended[1, b])})
            w.reset(done)
            self.tracker.reset(done, w.apples(), self.patch_apples())
            if self.social:
                self._traces.masked_fill_(done[:, None], 0.0)
                if self._observers is not None:
                    self._observers.masked_fill_(done[:, None, None], 0.0)
            self.stats["episodes"] += len(episodes)
        t3 = clock()
        rgb, ready = self._observe()
        t4 = clock()
        self.stats["steps"] += 1
        for name, dt in (("world_step", t1 - t0), ("rewards_metrics", t2 - t1),
                         ("episode_ends", t3 - t2), ("views", t4 - t3)):
            self.timings[name] = self.timings.get(name, 0.0) + dt
        return TensorStep(rgb, ready, rewards.view(self.num_seats, -1),
                          done.repeat_interleave(P), episodes)

    def _synced_clock(self) -> float:
        """perf_counter once the device has run what was queued (exact_timings)."""
        sync(self.device)
        return time.perf_counter()

    def _observe(self) -> tuple[torch.Tensor, torch.Tensor]:
        rgb = self.renderer.render()
        return (rgb.reshape(self.num_seats, 11, 11, 3),
                self.world.ready_to_shoot().view(self.num_seats))

    def set_social(self, decay: torch.Tensor, svo_angle: torch.Tensor) -> None:
        """Each seat's own inequity_decay and svo_angle (radians), [seats] each (NaN: the
        variant's value), for the social components from now on (popbased.env.social:
        per-observer traces). The first call starts every player's own traces from the shared
        ones."""
        if not self.social:
            return
        B, P = self.num_envs, self.players
        if self._observers is None:
            self._observers = self._traces[:, None, :].expand(B, P, P).contiguous()
        params = self.spec.params
        decay = torch.as_tensor(decay, dtype=torch.float32, device=self.device).view(B, P)
        angle = torch.as_tensor(svo_angle, dtype=torch.float32, device=self.device).view(B, P)
        self._social_params = (torch.nan_to_num(decay, nan=params.inequity_decay),
                               torch.nan_to_num(angle, nan=math.radians(params.svo_angle)))

    def scripted_moves(self, kind: str) -> torch.Tensor:
        """[seats] action codes (popbased.env.fast.scripted.ACTIONS) of scripted players of
        `kind` in every seat."""
        from popbased.env.fast.scripted import Scripted  # deferred: scripted imports this module's package

        if self._scripted is None:
            self._scripted = Scripted(self.world)
        return self._scripted.moves(kind).view(-1)

    def patch_apples(self) -> torch.Tensor:
        """[B, patches] float32: live apples of each patch (popbased.env.fast.ceiling.patches)."""
        return self.world.live.to(torch.float32) @ self._patch_matrix

    def apples_in_view(self) -> torch.Tensor:
        """[B, P] int16: live apples in each player's 11x11 window (0 while removed)."""
        w = self.world
        y, x = w.unflat(w.pos)
        dy = self._apple_y[None, None, :] - y[:, :, None]
        dx = self._apple_x[None, None, :] - x[:, :, None]
        f = self._dirs[w.orient]  # [B, P, 2] (dy, dx) ahead
        r = self._dirs[(w.orient + 1) % 4]
        ahead = dy * f[..., :1] + dx * f[..., 1:]
        side = dy * r[..., :1] + dx * r[..., 1:]
        inside = (ahead >= -1) & (ahead <= 9) & (side.abs() <= 5) & w.live[:, None, :w.A]
        return torch.where(w.alive, inside.sum(-1, dtype=torch.int16), 0)
