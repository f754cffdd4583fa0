"""`popbased export champion`: the best member of each population, written as a
self-contained policy folder, checked against the original, registered in MLflow.

A folder per population (OUT/POP/), which is also an MLflow model:
    policy.onnx | policy.pt | data/model.pt2   the network with preprocessing and masking
    policy.json    observation spec, action set, preprocessing, network, hyperparameters,
                   shaping weights, lineage summary, source checkpoint and its SHA-256, and
                   the verification result
    samples.npz    the real observations it was verified on, with the original's outputs
    README.md      how to load and run it without popbased
    MLmodel (+ input_example.json, requirements.txt, conda.yaml, python_env.yaml, code/)
                   the MLflow model: a signature (named tensors), an input example (one
                   real view) and a `python_function` flavour, so `mlflow.pyfunc.load_model`
                   runs it without popbased: onnx through MLflow's onnx flavour
                   (onnxruntime), mlflow (pt2) beside its pytorch flavour and torchscript
                   through torch_policy_pyfunc.py (torch), copied into code/.
    pyfunc: predict({"rgb": uint8 [N, H, W, 3], "mask": bool [N, A]} (+ "state" float32
    [N, 2, L], "starts" bool [N] when recurrent)) -> {"logp", "value" (+ "state_out")}.

Champion: `fitness` is the population's own fitness (as PBT used it) in the last completed
generation; `league-score` is the member's league objective (its focal return minus the mean
of the cells it played, a league run only). Verification: on real arena frames (random
play), with random action masks and, for LSTM policies, the state carried across steps,
the export must pick the same greedy action as the original everywhere, both loaded as
its format's runtime does and through `mlflow.pyfunc.load_model`.

MLflow and onnx are imported where a model is written or loaded through MLflow: they are heavy,
and `popbased export` imports this module for its FORMATS.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from popbased.env.instance import EnvRunner, downsample
from popbased.errors import BadInput
from popbased.export import model, runtime
from popbased.population.lineage import LineageLog
from popbased.population.report import lineage_lines
from popbased.ppo import checkpoint
from popbased.ppo.policy import masked_log_softmax
from popbased.runs.folder import MemberInfo, RunFolder
from popbased.substrates import resolve

FORMATS = ("onnx", "torchscript", "mlflow")
FLAVORS = {"onnx": ["onnx", "python_function"], "torchscript": ["python_function"],
           "mlflow": ["pytorch", "python_function"]}
TORCH_LOADER = Path(__file__).with_name("torch_policy_pyfunc.py")  # imports no popbased
BY = ("fitness", "league-score")
ALIAS = "champion"
TOLERANCE = 1e-4


def pick(run: RunFolder, population: str | None, by: str) -> list[MemberInfo]:
    """The champion of each population (or of `population`), best first by `by`."""
    if by not in BY:
        raise BadInput(f"--by {by!r}: choose one of {', '.join(BY)}")
    if by == "league-score" and run.kind != "league":
        raise BadInput(f"--by league-score: {run.path} is a PBT run, not a league; use --by fitness")
    pops = run.populations
    if population is not None and population not in pops:
        raise BadInput(f"--population {population!r}: {run.path} has {', '.join(pops)}")
    out = []
    for pop in [population] if population else pops:
        members = [m for m in run.members if m.population == pop]
        score = (lambda m: m.fitness) if by == "fitness" else (lambda m: m.objectives.get("league"))
        scored = [m for m in members if score(m) is not None]
        if not scored:
            raise BadInput(f"{run.path}: no member of {pop} has a {by} yet (generation "
                           f"{run.generation}); train at least one generation")
        out.append(max(scored, key=score))
    return out


# ---------------------------------------------------------------------- samples
def sample_views(arena: str, params: dict[str, str], steps: int, seed: int) -> np.ndarray:
    """Real 88x88 player views [steps, players, 88, 88, 3] from random play in the arena."""
    spec = resolve(arena, params)
    runner = EnvRunner(spec, np.random.default_rng(seed))
    players = spec.num_players
    frames = np.zeros((steps, players, model.RAW, model.RAW, 3), np.uint8)
    ready = np.zeros(players, np.float32)
    rewards = np.zeros((players, len(runner.components)), np.float32)
    rng = np.random.default_rng(seed)
    runner.begin(frames[0], ready)
    for t in range(1, steps):
        out = frames[t]
        if runner.step(rng.integers(0, len(spec.action_names), players), out, ready, rewards) is not None:
            runner.begin(out, ready)
    runner.instance.close()
    return frames


def _masks(shape: tuple[int, int], actions: int, rng: np.random.Generator) -> np.ndarray:
    masks = np.ones(shape + (actions,), bool)
    restricted = rng.random(shape) < 0.5
    masks[restricted] = rng.random((int(restricted.sum()), actions)) < 0.6
    masks[~masks.any(-1), 0] = True
    return masks


@torch.inference_mode()
def original_outputs(policy, frames: np.ndarray, masks: np.ndarray):
    """The popbased Policy itself, on views resized exactly as in training."""
    steps, players = frames.shape[:2]
    views = inputs(frames, policy.obs_size)
    state = policy.initial_state(players)
    logps, values = [], []
    for t in range(steps):
        starts = torch.full((players,), t == 0)
        logits, value, state = policy(torch.from_numpy(views[t]), state, starts)
        logps.append(masked_log_softmax(logits, torch.from_numpy(masks[t])).numpy())
        values.append(value.numpy())
    return np.stack(logps), np.stack(values)


def exported_outputs(folder: Path, frames: np.ndarray, masks: np.ndarray):
    exported = runtime.Exported(folder)
    steps, players = frames.shape[:2]
    views = inputs(frames, exported.input_size)
    state = exported.initial_state(players)
    logps, values = [], []
    for t in range(steps):
        logp, value, state = exported.step(views[t], masks[t], state, np.full(players, t == 0))
        logps.append(logp)
        values.append(value)
    return np.stack(logps), np.stack(values)


def pyfunc_outputs(folder: Path, frames: np.ndarray, masks: np.ndarray):
    """The same through `mlflow.pyfunc.load_model(folder)`, as the registry serves it."""
    import mlflow.pyfunc  # deferred (see the module's docstring)

    described = runtime.Exported.describe(folder)
    path = list(sys.path)
    try:
        with _quiet_mlflow():
            loaded = mlflow.pyfunc.load_model(str(folder), suppress_warnings=True)
    finally:
        sys.path[:] = path  # it prepends the model's code/ folder
    steps, players = frames.shape[:2]
    views = inputs(frames, int(described["observation"]["input"][1]))
    state = np.zeros((players, 2, int(described["network"]["lstm"])), np.float32)
    logps, values = [], []
    for t in range(steps):
        feed = {"rgb": views[t], "mask": masks[t]}
        if described["recurrent"]:
            feed.update(state=state, starts=np.full(players, t == 0))
        out = loaded.predict(feed)
        logps.append(out["logp"])
        values.append(out["value"])
        state = out.get("state_out", state)
    return np.stack(logps), np.stack(values)


def compare(expected: tuple[np.ndarray, np.ndarray], got: tuple[np.ndarray, np.ndarray],
            masks: np.ndarray) -> dict[str, Any]:
    (logp_a, value_a), (logp_b, value_b) = expected, got
    same = logp_a.argmax(-1) == logp_b.argmax(-1)
    legal = np.broadcast_to(masks, logp_a.shape)
    return {"samples": int(same.size), "same_actions": int(same.sum()),
            "max_logp_diff": float(np.abs(logp_a - logp_b)[legal].max()),
            "max_value_diff": float(np.abs(value_a - value_b).max()),
            "passed": bool(same.all() and np.abs(logp_a - logp_b)[legal].max() < TOLERANCE)}


# ---------------------------------------------------------------------- writing
def _relative(path: Path, target: Path) -> str:
    """`path` as seen from the export folder `target`: an export is moved, shared and committed,
    so it names no absolute path of this machine (runtime.Exported.describe resolves it)."""
    return Path(os.path.relpath(path.resolve(), target.resolve())).as_posix()


def _info(run: RunFolder, member: MemberInfo, payload: dict, policy, fmt: str, by: str,
          target: Path) -> dict[str, Any]:
    log = LineageLog(run.path / "lineage.jsonl")
    size = model.input_size(policy)
    input_names, output_names = model.names(policy.recurrent)
    return {
        "popbased_export": 1, "format": fmt, "file": runtime.FILES[fmt],
        "member": member.id, "population": member.population, "variant": member.variant,
        "run": {"kind": run.kind, "name": run.name, "folder": _relative(run.path, target),
                "generation": run.generation, "arena": run.arena, "arena_params": run.arena_params},
        "chosen_by": by, "fitness": member.fitness, "objectives": member.objectives,
        "league_score_of_population": run.scores.get(member.population),
        "observation": {
            "input": ["N", size, size, 3], "dtype": "uint8", "source": "each player's RGB observation",
            "policy_view": policy.obs_size,
            "preprocessing": (f"{model.RAW}x{model.RAW} -> {policy.obs_size}x{policy.obs_size} inside the "
                              f"model (block mean, rounded as cv2.resize INTER_AREA rounds); then /255"
                              if size == model.RAW else
                              f"resize {model.RAW}x{model.RAW} to {size}x{size} with cv2.resize("
                              f"interpolation=cv2.INTER_AREA) before the model; /255 inside")},
        "actions": list(policy.action_names),
        "inputs": input_names, "outputs": output_names,
        "outputs_meaning": {"logp": "log-probabilities over `actions` (masked actions ~ -1e9)",
                            "value": "the critic's estimate of the (shaped) return",
                            "state_out": "LSTM h and c for the next step"},
        "recurrent": policy.recurrent,
        "network": dataclasses.asdict(policy.net),
        "hyperparameters": payload["ppo"], "evolved": member.values, "shaping": payload["shaping"],
        "agent_steps": payload["counters"]["agent_steps"],
        "lineage": {"birth_generation": member.birth_generation, "parent": member.parent,
                    "copied_from": log.ancestry(member.id), "history": list(lineage_lines(log, member.id))},
        "checkpoint": {"file": _relative(member.checkpoint, target), "sha256": member.sha256},
        "mlflow_model": {"file": "MLmodel", "flavors": FLAVORS[fmt],
                         "pyfunc_input": "a dict of numpy arrays named as `inputs`, with exactly the "
                                         "signature's dtypes and shapes",
                         "pyfunc_output": "a dict of numpy arrays named as `outputs`"},
    }


README = """# {member} ({population}), champion of {run} (run folder `{folder}`, relative to this one)

`{file}` ({format}) takes {inputs} and returns {outputs}; `policy.json` describes every
input and output, the preprocessing, the action names, hyperparameters and lineage.
`samples.npz` holds the observations it was verified on and the original's outputs.

```python
import json, numpy as np
info = json.load(open("policy.json"))
s = np.load("samples.npz")
rgb, mask = s["rgb"][0], s["mask"][0]          # uint8 [N, {size}, {size}, 3], bool [N, {actions}]
{load}
action = logp.argmax(-1)                        # or sample from np.exp(logp)
print([info["actions"][a] for a in action])
```

This folder is also an MLflow model (`MLmodel`: a signature, an input example and the
flavours {flavors}); `popbased export champion` registers it as
`models:/LEAGUE-POPULATION@champion` (`models:/POPULATION@champion` for a PBT run). With
mlflow and {runtime} (no popbased):

```python
{pyfunc}
```
"""

LOADERS = {
    "onnx": ("import onnxruntime\n"
             "session = onnxruntime.InferenceSession(\"policy.onnx\")\n"
             "logp, value{state} = session.run(None, dict(zip({inputs!r}, [rgb, mask{extra_np}])))"),
    "torchscript": ("import torch\n"
                    "net = torch.jit.load(\"policy.pt\")\n"
                    "logp, value{state} = (t.numpy() for t in net(torch.from_numpy(rgb), "
                    "torch.from_numpy(mask){extra_t}))"),
    "mlflow": ("import mlflow.pytorch, torch\n"
               "net = mlflow.pytorch.load_model(\".\")  # or \"models:/NAME@champion\"\n"
               "logp, value{state} = (t.numpy() for t in net(torch.from_numpy(rgb), "
               "torch.from_numpy(mask){extra_t}))"),
}


def pyfunc_usage(info: dict, model_uri: str) -> str:
    """Python that loads the model with mlflow.pyfunc and picks greedy actions for rgb, mask."""
    size, actions = info["observation"]["input"][1], len(info["actions"])
    shapes = f"# uint8 [N, {size}, {size}, 3], bool [N, {actions}]"
    lines = ["import mlflow, numpy as np", f"model = mlflow.pyfunc.load_model({model_uri!r})"]
    if info["recurrent"]:
        lstm = info["network"]["lstm"]
        lines += [f"state = np.zeros((len(rgb), 2, {lstm}), np.float32)  # LSTM h, c: zeros to begin",
                  "starts = np.ones(len(rgb), bool)                 # True on an episode's first step",
                  f"out = model.predict({{'rgb': rgb, 'mask': mask,  {shapes}",
                  "                     'state': state, 'starts': starts})",
                  "state = out['state_out']                         # for the next step"]
    else:
        lines += [f"out = model.predict({{'rgb': rgb, 'mask': mask}})  {shapes}"]
    lines += ["action = out['logp'].argmax(-1)  # out['value']: float32 [N], the critic's estimate"]
    return "\n".join(lines)


def _readme(info: dict) -> str:
    recurrent = info["recurrent"]
    n_state = f"np.zeros((len(rgb), 2, {info['network']['lstm']}), np.float32)"
    load = LOADERS[info["format"]].format(
        state=", state" if recurrent else "", inputs=info["inputs"],
        extra_np=f", {n_state}, np.ones(len(rgb), bool)" if recurrent else "",
        extra_t=f", torch.from_numpy({n_state}), torch.ones(len(rgb), dtype=torch.bool)" if recurrent else "")
    return README.format(member=info["member"], population=info["population"], run=f'{info["run"]["kind"]} run {info["run"]["name"]}',
                         folder=info["run"]["folder"],
                         file=info["file"], format=info["format"], inputs=", ".join(info["inputs"]),
                         outputs=", ".join(info["outputs"]), size=info["observation"]["input"][1],
                         actions=len(info["actions"]), load=load, flavors=", ".join(FLAVORS[info["format"]]),
                         runtime="onnxruntime" if info["format"] == "onnx" else "torch",
                         pyfunc=pyfunc_usage(info, "."))


def example_input(policy, view: np.ndarray) -> dict[str, np.ndarray]:
    """The MLflow model's input example: one real view with every action legal (and, for a
    recurrent policy, the zero state at an episode's start)."""
    arrays = [view[None].astype(np.uint8), np.ones((1, len(policy.action_names)), bool)]
    if policy.recurrent:
        arrays += [np.zeros((1, 2, policy.net.lstm), np.float32), np.ones(1, bool)]
    return dict(zip(model.names(policy.recurrent)[0], arrays))


@torch.inference_mode()
def signature(policy, example: dict[str, np.ndarray]):
    """Named tensors in and out, the seat axis variable (-1), as MLflow infers them."""
    from mlflow.models import infer_signature  # deferred (see the module's docstring)

    out = model.wrap(policy)(*(torch.from_numpy(x) for x in example.values()))
    return infer_signature(example, dict(zip(model.names(policy.recurrent)[1], (t.numpy() for t in out))))


def _torch_requirements() -> list[str]:
    return [f"torch=={torch.__version__.split('+')[0]}", f"numpy=={np.__version__}"]


@contextlib.contextmanager
def _quiet_mlflow():
    """MLflow's INFO lines ("Validating input example against model signature") off the CLI."""
    import mlflow  # first: importing it sets its logger's level; deferred (module docstring)

    logger = logging.getLogger(mlflow.__name__)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _write_model(policy, fmt: str, folder: Path, example: dict[str, np.ndarray], metadata: dict) -> None:
    """The network as an MLflow model in `folder` (created here), its file named as before."""
    with _quiet_mlflow():
        _save_mlflow_model(policy, fmt, folder, example, metadata)


def _save_mlflow_model(policy, fmt: str, folder: Path, example: dict[str, np.ndarray], metadata: dict) -> None:
    import mlflow.pyfunc  # deferred (see the module's docstring)
    from mlflow.models import Model

    sig = signature(policy, example)
    if fmt == "onnx":  # MLflow's onnx flavour, its graph file renamed policy.onnx
        import mlflow.onnx  # deferred (see the module's docstring)
        import onnx

        raw = folder.with_name(folder.name + ".onnx")
        model.to_onnx(policy, raw)
        mlflow.onnx.save_model(onnx.load(str(raw)), str(folder), signature=sig, input_example=example,
                               pip_requirements=mlflow.onnx.get_default_pip_requirements(),
                               onnx_execution_providers=["CPUExecutionProvider"], metadata=metadata,
                               save_as_external_data=False)
        raw.unlink()
        os.replace(folder / "model.onnx", folder / runtime.FILES["onnx"])
        meta = Model.load(str(folder / "MLmodel"))
        for flavor in ("onnx", "python_function"):
            meta.flavors[flavor]["data"] = runtime.FILES["onnx"]
        meta.save(str(folder / "MLmodel"))
        return
    # torch: a pyfunc whose loader (torch_policy_pyfunc.py) MLflow copies into code/
    meta = Model()
    if fmt == "mlflow":  # the pytorch flavour's pt2 (torch.export, no pickle), beside the pyfunc
        import mlflow.pytorch  # deferred (see the module's docstring)

        traced = folder.with_name(folder.name + ".pt2")
        trace = tuple(x.numpy() for x in model.example_inputs(policy))  # 2 seats: the seat axis stays dynamic
        mlflow.pytorch.save_model(model.wrap(policy), str(traced), serialization_format="pt2", signature=sig,
                                  input_example=trace, pip_requirements=_torch_requirements())
        meta.add_flavor("pytorch", **Model.load(str(traced / "MLmodel")).flavors["pytorch"])
    mlflow.pyfunc.save_model(str(folder), loader_module=TORCH_LOADER.stem, code_paths=[str(TORCH_LOADER)],
                             mlflow_model=meta, signature=sig, input_example=example,
                             pip_requirements=_torch_requirements(), metadata=metadata)
    if fmt == "mlflow":
        shutil.copytree(traced / "data", folder / "data")
        shutil.rmtree(traced)
    else:
        torch.jit.save(model.torchscript(policy), str(folder / runtime.FILES["torchscript"]))


def _metadata(info: dict) -> dict:
    """What MLmodel's `metadata` says of the policy (policy.json, beside it, says all)."""
    return {"popbased_export": info["popbased_export"], "member": info["member"],
            "population": info["population"], "actions": info["actions"], "recurrent": info["recurrent"],
            "described_in": runtime.INFO}


def _model_size(folder: Path) -> None:
    from mlflow.models import Model  # deferred (see the module's docstring)

    meta = Model.load(str(folder / "MLmodel"))
    meta.model_size_bytes = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    meta.save(str(folder / "MLmodel"))


def export_member(run: RunFolder, member: MemberInfo, fmt: str, target: Path, by: str,
                  sample_steps: int = 24, seed: int = 0) -> dict[str, Any]:
    """Writes the member's export into `target` (replacing it), verified; returns policy.json."""
    payload = checkpoint.read(member.checkpoint)
    policy = checkpoint.policy_from(payload, member.checkpoint).eval()
    frames = sample_views(run.arena, run.arena_params, sample_steps, seed)
    masks = _masks(frames.shape[:2], len(policy.action_names), np.random.default_rng(seed))
    expected = original_outputs(policy, frames, masks)
    views = inputs(frames, model.input_size(policy))
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        staged = work / target.name
        info = _info(run, member, payload, policy, fmt, by, target)
        _write_model(policy, fmt, staged, example_input(policy, views[0, 0]), _metadata(info))
        (staged / runtime.INFO).write_text(json.dumps(info, indent=1))
        check = compare(expected, exported_outputs(staged, frames, masks), masks)
        check["pyfunc"] = compare(expected, pyfunc_outputs(staged, frames, masks), masks)
        check["passed"] = check["passed"] and check["pyfunc"]["passed"]
        info["verification"] = check
        (staged / runtime.INFO).write_text(json.dumps(info, indent=1))
        if not check["passed"]:
            raise RuntimeError(f"export of {member.id} does not match the original: {check}")
        np.savez_compressed(staged / "samples.npz", rgb=views, mask=masks, logp=expected[0],
                            value=expected[1], action=expected[0].argmax(-1))
        (staged / "README.md").write_text(_readme(info))
        _model_size(staged)
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
        return info
    finally:
        shutil.rmtree(work, ignore_errors=True)


def inputs(frames: np.ndarray, size: int) -> np.ndarray:
    """Raw views [T, P, 88, 88, 3] at view size `size`, resized as in training."""
    if size == model.RAW:
        return frames
    out = np.zeros(frames.shape[:2] + (size, size, 3), np.uint8)
    for t in range(len(frames)):
        downsample(frames[t], out[t])
    return out
