"""BatchedEnv: N instances of one substrate stepped together, agents on the batch axis.

    env = BatchedEnv(resolve("no_zap"), num_envs=4, seed=0)
    obs = env.reset()                       # obs.rgb [4*players, 11, 11, 3] uint8
    out = env.step(actions)                 # actions [4*players] int
    out.rewards                             # [4*players, C] float32, C = len(env.components)
    out.done                                # [4*players] bool: the seat's episode ended
    out.episodes                            # summaries of the episodes that ended this step

Seats are numbered env-major: seat = env * players + player. When an episode ends,
that env's seats get the first observation of a new episode in the same step
(`done` marks the last reward of the old one).

Resets are hidden. With `backend='process'` (the default) every instance lives in its
own worker process, and there are `spares` more workers than envs: when an episode
ends, a spare that has already built and started the next episode takes the env's
place at once, and the finished worker builds its next episode in the background
(a Melting Pot reset rebuilds the Lab2d environment, a large share of a plain loop's time:
`reset_fraction_of_wall` in bench/env_p1.json). The pool only waits when no spare is ready
(`stats['reset_wait_s']`). `backend='inline'` steps the instances in this process with
resets in line: for debugging, and for the PettingZoo view.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from multiprocessing import connection, shared_memory
from typing import Any

import numpy as np

from popbased.env import worker as worker_mod
from popbased.env.instance import EnvRunner, component_names, state_size
from popbased.env.seats import SeatActions
from popbased.env.shared import make_layout, views
from popbased.errors import BadInput
from popbased.substrates.spec import Lab2dSpec


@dataclass
class Observation:
    rgb: np.ndarray
    """[seats, s, s, 3] uint8: each player's view (s = obs_size)."""
    ready_to_shoot: np.ndarray
    """[seats] float32: Melting Pot's READY_TO_SHOOT (1 where the substrate has none)."""
    action_mask: np.ndarray
    """[seats, actions] bool: the actions each seat may take."""
    world: Any = None
    """The world state, for agents that read it (scripted players): the fast env's World, or
    with world_state=True on Melting Pot [envs, D] float64, each env's WORLD.POPBASED_STATE
    (popbased's StateDump observer; popbased.env.fast.capture.parse_state reads it). None
    otherwise."""


@dataclass
class StepResult:
    obs: Observation
    rewards: np.ndarray
    """[seats, components] float32, components named by BatchedEnv.components."""
    done: np.ndarray
    """[seats] bool."""
    episodes: list[dict[str, Any]] = field(default_factory=list)
    """Metrics of each episode that ended this step, with its 'env' index."""


class BatchedEnv(SeatActions):
    """See the module docstring."""

    def __init__(self, spec: Lab2dSpec, num_envs: int = 1, *, seed: int = 0, obs_size: int = 11,
                 backend: str = "process", spares: int | None = None, series_every: int = 100,
                 useful_zap_window: int = 20, apples_in_view: bool | None = None,
                 max_episode_steps: int | None = None, world_state: bool = False):
        if num_envs < 1:
            raise BadInput(f"num_envs={num_envs}: must be >= 1")
        if not 1 <= obs_size <= 88:
            raise BadInput(f"obs_size={obs_size}: must be between 1 and 88 (88 = full resolution)")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise BadInput(f"max_episode_steps={max_episode_steps}: must be >= 1")
        if backend not in ("process", "inline"):
            raise BadInput(f"backend={backend!r}: allowed are 'process' and 'inline'")
        self.spec = spec
        self.num_envs = num_envs
        self.players = spec.num_players
        self.num_seats = num_envs * self.players
        self.obs_size = obs_size
        self.backend = backend
        self.action_names = spec.action_names
        self.num_actions = len(spec.action_names)
        self.components = component_names(spec, apples_in_view)
        self.action_mask = np.ones((self.num_seats, self.num_actions), dtype=bool)
        self.stats = {"steps": 0, "reset_wait_s": 0.0, "episodes": 0}
        self._options = {"series_every": series_every, "useful_zap_window": useful_zap_window,
                         "apples_in_view": apples_in_view, "max_episode_steps": max_episode_steps}
        self._seed = seed
        self._closed = False
        self.num_workers = num_envs if backend == "inline" else num_envs + (
            max(1, (num_envs + 1) // 2) if spares is None else spares)
        shapes = {
            "rgb": ((self.num_workers, self.players, obs_size, obs_size, 3), "uint8"),
            "ready": ((self.num_workers, self.players), "float32"),
            "rewards": ((self.num_workers, self.players, len(self.components)), "float32"),
            "actions": ((self.num_workers, self.players), "int64"),
        }
        if world_state:  # each step's WORLD.POPBASED_STATE (Observation.world)
            shapes["state"] = ((self.num_workers, state_size(spec)), "float64")
        self._layout = make_layout(shapes)
        if backend == "inline":
            self._shm = None
            self._arrays = views(bytearray(self._layout["size"]), self._layout)
            self._runners = [EnvRunner(spec, np.random.default_rng([seed, w]), **self._options)
                             for w in range(num_envs)]
            if world_state:
                for w, runner in enumerate(self._runners):
                    runner.state = self._arrays["state"][w]
        else:
            self._shm = shared_memory.SharedMemory(create=True, size=self._layout["size"])
            self._arrays = views(self._shm.buf, self._layout)
            self._start_workers()
        self._slot_worker = np.arange(num_envs)
        self._started = False
        self._pending: np.ndarray | None = None

    # ----------------------------------------------------------------- public API
    def reset(self) -> Observation:
        """First observations of every env (only once: later resets happen by themselves)."""
        if self._started:
            raise RuntimeError("BatchedEnv.reset() is called once; episodes restart by themselves")
        self._started = True
        if self.backend == "inline":
            for w, runner in enumerate(self._runners):
                runner.begin(self._arrays["rgb"][w], self._arrays["ready"][w])
        else:
            self._ready_workers(self.num_envs)
            self._slot_worker = np.array([self._spares.pop(0) for _ in range(self.num_envs)])
        return self._observation()

    def step_async(self, actions: np.ndarray) -> None:
        """Starts a step and returns at once (the process backend steps while you compute)."""
        actions = self._start_step(actions)
        per_env = actions.reshape(self.num_envs, self.players)
        self._pending = per_env
        if self.backend == "process":
            a = self._arrays
            a["actions"][self._slot_worker] = per_env
            for w in self._slot_worker:
                self._conns[w].send(worker_mod.STEP)

    def step_wait(self) -> StepResult:
        """Finishes the step started by step_async()."""
        if self._pending is None:
            raise RuntimeError("step_wait() without step_async()")
        per_env, self._pending = self._pending, None
        rewards = np.empty((self.num_envs, self.players, len(self.components)), dtype=np.float32)
        done = np.zeros(self.num_envs, dtype=bool)
        episodes: list[dict[str, Any]] = []
        if self.backend == "inline":
            self._step_inline(per_env, rewards, done, episodes)
        else:
            self._wait_workers(rewards, done, episodes)
        self.stats["steps"] += 1
        self.stats["episodes"] += len(episodes)
        return StepResult(self._observation(), rewards.reshape(self.num_seats, -1),
                          np.repeat(done, self.players), episodes)

    def render(self, env: int = 0) -> np.ndarray:
        """WORLD.RGB of one env (for videos; never on the training path)."""
        if self.backend == "inline":
            return self._runners[env].instance.world_rgb()
        conn = self._conns[self._slot_worker[env]]
        conn.send(worker_mod.RENDER)
        return self._receive(conn)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.backend == "inline":
            for runner in self._runners:
                runner.close()
            return
        for conn in self._conns:
            try:
                conn.send(worker_mod.CLOSE)
            except (BrokenPipeError, OSError):
                pass
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._arrays = None
        self._shm.close()
        self._shm.unlink()

    def __enter__(self) -> "BatchedEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # ----------------------------------------------------------------- internals
    def _observation(self) -> Observation:
        workers = self._slot_worker
        rgb = self._arrays["rgb"][workers].reshape(self.num_seats, self.obs_size, self.obs_size, 3)
        ready = self._arrays["ready"][workers].reshape(self.num_seats)
        world = self._arrays["state"][workers].copy() if "state" in self._arrays else None
        return Observation(rgb, ready.copy(), self.action_mask, world)

    def _step_inline(self, per_env, rewards, done, episodes) -> None:
        a = self._arrays
        for e, runner in enumerate(self._runners):
            summary = runner.step(per_env[e], a["rgb"][e], a["ready"][e], rewards[e])
            if summary is not None:
                done[e] = True
                episodes.append({"env": e, **summary})
                t0 = time.perf_counter()
                runner.begin(a["rgb"][e], a["ready"][e])
                self.stats["reset_wait_s"] += time.perf_counter() - t0

    def _start_workers(self) -> None:
        key = secrets.token_bytes(16)
        listener = connection.Listener(family="AF_UNIX", authkey=key)
        env = dict(os.environ, POPBASED_WORKER_KEY=key.hex(), OMP_NUM_THREADS="1")
        self._procs = [subprocess.Popen([sys.executable, "-m", "popbased.env.worker",
                                         listener.address, str(w)], env=env)
                       for w in range(self.num_workers)]
        self._conns = [None] * self.num_workers
        try:
            for _ in range(self.num_workers):
                conn = listener.accept()
                w = conn.recv()
                conn.send((self.spec, self._shm.name, self._layout, self._seed, self._options))
                self._conns[w] = conn
        finally:
            listener.close()
        self._spares: list[int] = []
        self._building = set(range(self.num_workers))

    def _receive(self, conn):
        try:
            msg = conn.recv()
        except EOFError:
            raise RuntimeError("an env worker process died (see its output above)") from None
        if isinstance(msg, tuple) and msg and msg[0] == "error":
            raise RuntimeError(f"env worker failed:\n{msg[1]}")
        return msg

    def _collect_ready(self, block: bool) -> None:
        """Moves workers that finished building to the spares (waits for one if block)."""
        if not self._building:
            return
        conns = {self._conns[w]: w for w in self._building}
        ready = connection.wait(list(conns), timeout=None if block else 0)
        for conn in ready:
            msg = self._receive(conn)
            assert msg == ("ready",), msg
            w = conns[conn]
            self._building.discard(w)
            self._spares.append(w)

    def _ready_workers(self, count: int) -> None:
        while len(self._spares) < count:
            self._collect_ready(block=True)

    def _wait_workers(self, rewards, done, episodes) -> None:
        a = self._arrays
        workers = self._slot_worker
        finished = []
        for e, w in enumerate(workers):
            msg = self._receive(self._conns[w])
            if msg is None:
                rewards[e] = a["rewards"][w]
            else:
                _, last_rewards, summary = msg
                rewards[e] = last_rewards
                done[e] = True
                episodes.append({"env": e, **summary})
                finished.append(e)
        for e in finished:
            self._building.add(int(workers[e]))
            self._collect_ready(block=False)
            if not self._spares:
                t0 = time.perf_counter()
                self._ready_workers(1)
                self.stats["reset_wait_s"] += time.perf_counter() - t0
            workers[e] = self._spares.pop(0)
