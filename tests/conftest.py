"""Shared fixtures and helpers: a real local Ray for the session, the CLI as a user runs it
(in a fresh process or in this one), league files and a real tiny league run, synthetic
learner batches, PBT members and a lineage log that several test modules use.

The tests mirror the package: the tests of popbased/<package>/<module>.py are in
tests/<package>/test_<module>.py (top-level modules: tests/test_<module>.py). pytest imports
them without __init__.py files, so their names are unique: the CLI's are test_cli_<command>.py,
the fast env's test_fast_<module>.py, and a module name found in two packages takes its
package's name (test_league_spec.py, test_population_spec.py). Test modules import shared
helpers from here, never from each other. Tests that run real heavy components for long (real
leagues, PBT runs, Ray clusters, mlflow servers, long episodes) are marked `slow`:
`scripts/test -m "not slow"` is the quick loop, CI runs everything."""

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
POPS = ROOT / "populations"
DURATIONS = ROOT / "tests" / "durations.json"
ACTIONS = ("NOOP", "FORWARD", "BACKWARD", "STEP_LEFT", "STEP_RIGHT", "TURN_LEFT", "TURN_RIGHT",
           "FIRE_ZAP")
COMPONENTS = ("reward", "zap_hits", "zapped", "others_reward")


def pytest_configure(config):
    global _CONTROLLER  # under pytest-xdist the workers write the timeline, not the controller
    _CONTROLLER = bool(getattr(config.option, "numprocesses", None)) and "PYTEST_XDIST_WORKER" not in os.environ
    config.addinivalue_line("markers", "device: takes the `device` fixture (set on collection); "
                            "scripts/device_check runs `-m device -k cuda` on a lent GPU")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """scripts/test runs the suite on parallel workers (pytest-xdist, `--dist loadgroup`): each
    test module stays on one worker (its module fixtures are made once), and so do all the
    tests that read the session's tiny league, and all those that read its bots (each made
    once, not once per worker). Tests that take the `device` fixture are marked `device`.
    The groups go out longest first (tests/durations.json, seconds per group as last measured;
    scripts/test passes `--no-loadscope-reorder` so that pytest-xdist keeps this order instead
    of its own by test count): a long group started last would leave the other worker idle."""
    seconds = json.loads(DURATIONS.read_text()) if DURATIONS.is_file() else {}
    groups, first = {}, {}  # each test's group; each group's first place in collection order
    for i, item in enumerate(items):
        if "device" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.device)
        shared = [f for f in ("tiny_league_run", "open_bots") if f in item.fixturenames]
        group = groups[item.nodeid] = shared[0] if shared else item.nodeid.split("::")[0]
        first.setdefault(group, i)
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: (-seconds.get(groups[item.nodeid], 0.0), first[groups[item.nodeid]]))


def pytest_collection_finish(session):
    """The groups above must reach pytest-xdist: with pytest 9 its `--dist loadgroup` cannot
    add a group to a node id and scatters every module's tests over the workers (each worker
    then builds every module fixture and the session's tiny league again), without a word."""
    if getattr(session.config.option, "loadgroup", False) and session.items \
            and "@" not in session.items[0].nodeid:
        raise pytest.UsageError(f"pytest {pytest.__version__} with pytest-xdist: `--dist loadgroup` "
                                "has no effect (no group in the node ids); install pytest<9 "
                                "(scripts/constraints.txt pins it)")


_CONTROLLER = False


def pytest_runtest_logstart(nodeid, location):
    _timeline(nodeid, "start")


def pytest_runtest_logfinish(nodeid, location):
    _timeline(nodeid, "end")


def _timeline(nodeid: str, what: str) -> None:
    """POPBASED_TEST_TIMELINE=FILE: each worker appends `worker start|end seconds nodeid` per
    test, to see how the parallel workers' time is spent (which group ends last, idle tails);
    scripts/test_timeline summarises it."""
    path = os.environ.get("POPBASED_TEST_TIMELINE")
    if path and not _CONTROLLER:
        with open(path, "a") as f:
            f.write(f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')} {what} {time.time():.2f} {nodeid}\n")


DEVICES = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
"""Where device-parametrised tests run: the CPU always, CUDA where torch sees a GPU."""


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Each device of DEVICES in turn, as the test id's `cpu` / `cuda` (`-k cuda` picks the GPU
    cases: scripts/device_check runs them on a lent GPU machine), resolved as a run resolves
    it (on CUDA: TF32 off). Tests that take it build their tensors, envs, collectors and
    learners there and read results back with `.cpu()`."""
    from popbased.ppo.learner import resolve_device

    return resolve_device(request.param)


@pytest.fixture(scope="session")
def ray_local():
    """One real local Ray for the whole session (2 CPUs, like CI's machine); the tests that
    need it are skipped where Ray is not installed (a lent GPU machine: scripts/device_check)."""
    pytest.importorskip("ray", reason="Ray is not installed here (scripts/device_check carries no Ray)")
    import ray

    from popbased.rollout.cluster import ensure_ray

    info = ensure_ray(num_cpus=2)
    yield info
    ray.shutdown()


def invoke(*args):
    """`popbased ARGS...` in this process (click's CliRunner): quick, output captured."""
    from click.testing import CliRunner

    from popbased.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def popbased_argv(*args) -> list[str]:
    """The command line of `popbased ARGS...` (for subprocess.Popen and friends)."""
    return [sys.executable, "-m", "popbased.cli", *map(str, args)]


def popbased(cwd, *args, timeout=600, env=None):
    """`popbased ARGS...` in a fresh process, as a user runs it (in folder `cwd`)."""
    return subprocess.run(popbased_argv(*args), capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=env)


def train_argv(address: str, out, steps: int) -> list[str]:
    """`popbased train` in another process, joining the session's Ray (one small worker)."""
    return popbased_argv("train", "open", "--total-steps", steps, "--workers", 1, "--envs-per-worker", 1,
                         "--rollout-length", 40, "--ray-address", address, "--out", out)


def one_line_error(result, text, ignore: str | tuple[str, ...] | None = None):
    """Bad input: exit 2 and one line on stderr (lines containing `ignore`, or any of its
    strings, aside) with `text`."""
    ignore = (ignore,) if isinstance(ignore, str) else tuple(ignore or ())
    lines = [l for l in result.stderr.splitlines() if l.strip() and not any(i in l for i in ignore)]
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and text in lines[0], result.stderr


def run_one_line_error(result, text):
    """one_line_error for commands given a run reference: the note naming the run folder that a
    league name stood for is not the error line."""
    return one_line_error(result, text, ignore="its newest run under")


def league_text(populations=("open", "no_zap"), extra: str = "", league: str = "") -> str:
    """A league file of shipped populations; `league` and `extra` are appended to it."""
    names = ", ".join(f'"{POPS / (p + ".toml")}"' for p in populations)
    return (f'[league]\nname = "tiny"\npopulations = [{names}]\narena = "open"\nsize = 2\n'
            f'steps_per_generation = 1500\nepisode_steps = 100\n{league}\n{extra}')


def write_league(tmp_path, text: str) -> Path:
    path = tmp_path / "league.toml"
    path.write_text(text)
    return path


def tiny_league(tmp_path, steps=1500, evaluation=0) -> Path:
    """open and no_zap, 2 members each, in an open arena; one snapshot kept."""
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


@pytest.fixture(scope="session")
def tiny_league_run(ray_local, tmp_path_factory) -> Path:
    """A real tiny league of one generation under WORK/runs/tiny, tracked in WORK/mlflow.db;
    returns WORK. Tests that use it may add files to WORK, never change what the league wrote."""
    work = tmp_path_factory.mktemp("work")
    launched = popbased(work, "league", "launch", tiny_league(work), "--generations", 1, "--workers", 1,
                        "--rollout-length", 50, "--out", "runs/tiny", "--ray-address", ray_local["address"])
    assert launched.returncode == 0, launched.stderr[-3000:]
    return work


def mlflow_client(work):
    """An MLflow client on WORK/mlflow.db (tracking and model registry)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{work / 'mlflow.db'}"
    return MlflowClient(uri, registry_uri=uri)


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


# ---------------------------------------------------------------------- PBT members
TINY = {
    "population": {"name": "tiny", "substrate": "no_zap", "size": 3, "steps_per_generation": 600},
    "ppo": {"epochs": 1, "minibatch_size": 200},
    "evolve": {"lr": {"init": [1e-4, 1e-3], "bounds": [1e-5, 1e-2], "scale": "log"}},
    "shaping": {"reward": {"init": 1.0, "bounds": [-1.0, 1.0]},
                "others_reward": {"init": [0.0, 0.2], "bounds": [0.0, 1.0]}},
}
"""A population of 3 on no_zap that evolves lr and two shaping weights."""


def tiny_spec(**pbt):
    """TINY as a PopulationSpec, with `pbt` as its [pbt] table."""
    from popbased.population.spec import parse

    raw = copy.deepcopy(TINY)
    raw["pbt"] = pbt
    return parse(raw, "tiny.toml")


def make_members(spec, seed=0):
    """The spec's members on the CPU, each updated once (Adam has moments to copy)."""
    from popbased.population.member import Member
    from popbased.ppo.config import NetConfig, PPOConfig
    from popbased.ppo.learner import Learner

    members = {}
    for i in range(spec.size):
        learner = Learner(f"m{i}", 11, ACTIONS, net=NetConfig(mlp=(32,)),
                          config=PPOConfig(minibatch_size=40), shaping_weights={"reward": 1.0},
                          device="cpu", seed=seed + i)
        member = Member(f"m{i}", spec.name, learner,
                        {"lr": 1e-4 * (i + 1), "shaping.reward": 1.0, "shaping.others_reward": 0.1})
        member.apply()
        learner.update(make_batch(seed=i, member=f"m{i}"))  # Adam has moments to copy
        members[member.id] = member
    return members


def tracker_with(samples: dict[str, list[float]]):
    """A FitnessTracker whose return samples are `samples`."""
    from popbased.population.fitness import FitnessTracker

    tracker = FitnessTracker(samples, COMPONENTS)
    for m, values in samples.items():
        tracker.samples[m]["return"] = list(values)
    return tracker


def member_state(member):
    """Copies of a member's weights and optimizer state."""
    return (copy.deepcopy(member.learner.policy.state_dict()),
            copy.deepcopy(member.learner.optimizer.state_dict()))


def equal_states(a, b) -> bool:
    """Two member_state()s hold the same weights, Adam moments and parameter groups."""
    (wa, oa), (wb, ob) = a, b
    if any(not torch.equal(wa[k], wb[k]) for k in wa):
        return False
    for key in oa["state"]:
        for name, value in oa["state"][key].items():
            if not torch.equal(torch.as_tensor(value), torch.as_tensor(ob["state"][key][name])):
                return False
    return oa["param_groups"] == ob["param_groups"]


def write_lineage_run(folder):
    """A lineage.jsonl of two populations; in generation 1 a/m1 copies a/m0, in generation 2
    a/m0 copies a/m1."""
    from popbased.population.lineage import LineageEvent, LineageLog

    log = LineageLog(folder / "lineage.jsonl")
    for m in ("a/m0", "a/m1", "b/m0", "b/m1"):
        log.append(LineageEvent(m, 0, 0, "init", {"lr": 1e-3}, reason="sampled"))
    log.append(LineageEvent("a/m0", 1, 10, "keep", {"lr": 1e-3}, fitness=5.0, reason="top group"))
    log.append(LineageEvent("a/m1", 1, 10, "exploit", {"lr": 1e-3}, {"lr": [2e-3, 1e-3, "copied"]},
                            donor="a/m0", fitness=1.0, donor_fitness=5.0, reason="bottom group"))
    log.append(LineageEvent("a/m1", 1, 10, "explore", {"lr": 1.2e-3}, {"lr": [1e-3, 1.2e-3, "g"]}))
    log.append(LineageEvent("a/m1", 2, 20, "keep", {"lr": 1.2e-3}, fitness=9.0, reason="top group"))
    log.append(LineageEvent("a/m0", 2, 20, "exploit", {"lr": 1.2e-3}, {}, donor="a/m1",
                            fitness=2.0, donor_fitness=9.0, reason="bottom group"))
    return log


# Melting Pot bots of our own: TF2 SavedModels in the exact format Melting Pot's SavedModelPolicy
# loads. PermissiveModel (meltingpot/utils/policies/permissive_model.py) reads the model's
# `function_signatures()` (each function's parameters: name, inspect kind) and
# `function_tables()` (hash tables to initialise: none here), then calls `initial_state(key)`
# and `step(key, timestep, prev_state)` with only the arguments and observation keys the saved
# function was traced with; TF2SavedModelPolicy unpacks `(key, state)` and
# `(key, ((action, extra), state))`. Traced with None for step_type, reward and discount
# (PermissiveModel passes None where a saved function has none) and the RGB view read.
MELTINGPOT_BOT = r'''
import inspect, json, os, shutil, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import dm_env
import tensorflow as tf

KIND = int(inspect.Parameter.POSITIONAL_OR_KEYWORD)


class FixedActionBot(tf.Module):
    """Reads its view, always takes one action."""

    def __init__(self, action):
        super().__init__()
        self.action = tf.Variable(action, dtype=tf.int32, trainable=False)

    @tf.function
    def initial_state(self, key):
        return key, {"steps": tf.zeros([], tf.int32)}

    @tf.function
    def step(self, key, timestep, prev_state):
        brightness = tf.reduce_mean(tf.cast(timestep.observation["RGB"], tf.float32))
        return key, ((tf.identity(self.action), {"brightness": brightness}),
                     {"steps": prev_state["steps"] + 1})

    @tf.function
    def function_signatures(self):
        params = lambda *names: [(tf.constant(n), tf.constant(KIND)) for n in names]
        return {"initial_state": params("key"), "step": params("key", "timestep", "prev_state")}

    @tf.function
    def function_tables(self):
        return {}


def save(folder, action):
    bot = FixedActionBot(action)
    key = tf.TensorSpec([2], tf.uint32)
    bot.initial_state.get_concrete_function(key)
    timestep = dm_env.TimeStep(step_type=None, reward=None, discount=None,
                               observation={"RGB": tf.TensorSpec([None, None, 3], tf.uint8)})
    bot.step.get_concrete_function(key, timestep, {"steps": tf.TensorSpec([], tf.int32)})
    bot.function_signatures.get_concrete_function()
    bot.function_tables.get_concrete_function()
    tf.saved_model.save(bot, folder)


root, bots = sys.argv[1], json.loads(sys.argv[2])
made = {}
for model, action in bots.items():
    folder = os.path.join(root, model)
    if action in made:
        shutil.copytree(made[action], folder)
    else:
        save(folder, action)
        made[action] = folder
'''


def write_bots(root, bots: dict[str, int]) -> Path:
    """Bots under models root `root`, laid out as Melting Pot's assets/saved_models: {"SUBSTRATE/
    MODEL": the action it always takes}. Written in a fresh interpreter (TensorFlow stays out of
    the test process)."""
    import json

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    out = subprocess.run([sys.executable, "-c", MELTINGPOT_BOT, str(root), json.dumps(bots)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return root


OPEN_BOTS = {"commons_harvest__open/free_0": 7, "commons_harvest__open/free_1": 7,
             "commons_harvest__open/pacifist_0": 1, "commons_harvest__open/pacifist_1": 1}
"""commons_harvest__open's bots, our way: the free_* (the zapping visitors of scenario open_0)
always FIRE_ZAP (7), the pacifist_* (open_1's visitors) always move FORWARD (1)."""


@pytest.fixture(scope="session")
def open_bots(tmp_path_factory) -> Path:
    """A models root with OPEN_BOTS (tests must not change it: copy it first)."""
    return write_bots(tmp_path_factory.mktemp("bots"), OPEN_BOTS)


# ---------------------------------------------------------------------- evaluation folders
def made_up_episode(ret: float, players: int = 3) -> dict:
    """One made-up episode as an evaluation's players report it (no Ray, no substrate)."""
    return {"steps": 100, "per_capita_return": ret, "gini": 0.1, "depleted": False,
            "depletion_step": None, "proxy_depleted": False, "proxy_depletion_step": None,
            "apples_initial": 50, "apples_min": 10, "apples_final": 20,
            "returns": [ret] * players, "apples_eaten": [ret] * players, "zaps_fired": [0] * players,
            "zap_hits": [0] * players, "useful_zaps": [0] * players, "zapped": [0] * players,
            "series": {"step": [0, 100], "per_capita_return": [0.0, ret], "gini": [0.0, 0.1],
                       "apples": [50, 20]}}


def write_evaluation(out) -> Path:
    """An evaluation results folder (popbased.evaluation.results.write, untracked) of two
    policies, champion and random, on two regrowth points, two made-up episodes each."""
    from popbased.evaluation import results

    played = [{"policy": policy, "kind": "random", "params": {"regrowth": r},
               "episodes": [made_up_episode(k + float(r)), made_up_episode(k + 2 * float(r))],
               "seconds": 1.0}
              for k, policy in enumerate(("champion", "random")) for r in ("0.1", "1")]
    info = {"title": "open: regrowth sweep", "substrate": "open", "policies": ["champion", "random"],
            "policy_refs": ["champion", "random"], "sources": [], "axes": {"regrowth": ["0.1", "1"]},
            "fixed": {}, "modes": None, "episodes": 2, "seed": 0, "max_steps": 100, "env": "fast",
            "seconds": 3.0, "episodes_per_minute": 160.0, "started": "2026-01-01T00:00:00Z"}
    results.write(Path(out), info, played)
    return Path(out)
