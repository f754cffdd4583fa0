"""Champion export (popbased.export.champion, .registry) from a real tiny league (real
substrates, real Ray, the real MLflow store in ./mlflow.db): registered as MLflow models, loaded
without popbased (onnxruntime, torch, and `mlflow.pyfunc.load_model("models:/NAME@champion")`)
choosing the original policy's greedy actions, bad input; a recurrent policy's exports carry
its state, through pyfunc too."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from popbased.export import champion, registry, runtime
from popbased.ppo import checkpoint
from popbased.ppo.config import NetConfig
from popbased.ppo.learner import Learner
from popbased.runs.folder import MemberInfo, RunFolder, open_run

from conftest import mlflow_client, popbased, run_one_line_error


def without_popbased(cwd, load: str, sample: int) -> None:
    """Runs `load` (which defines `logp` from the arrays rgb, mask of samples.npz, entry
    `sample`) in a fresh Python where importing popbased fails; checks the chosen actions."""
    code = f"""import sys; sys.modules["popbased"] = None
import numpy as np, torch
s = np.load("samples.npz")
rgb, mask = s["rgb"][{sample}], s["mask"][{sample}]
{load}
assert (np.asarray(logp).argmax(-1) == s["action"][{sample}]).all()
print("same")
"""
    check = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert check.stdout.strip() == "same", check.stderr[-2000:]


PYFUNC = """import json, sys
sys.modules["popbased"] = None  # `import popbased` raises ImportError from here on
try:
    import popbased
except ImportError:
    pass
else:
    raise SystemExit("popbased is importable")
import mlflow, numpy as np
mlflow.set_tracking_uri({uri!r}); mlflow.set_registry_uri({uri!r})
out = {{}}
for model_uri, samples in {jobs!r}:
    model = mlflow.pyfunc.load_model(model_uri)
    schema = model.metadata.get_input_schema()
    names, s = schema.input_names(), np.load(samples)
    state, actions = None, []
    for t in range(len(s["rgb"])):
        feed = {{"rgb": s["rgb"][t], "mask": s["mask"][t]}}
        if "state" in names:  # recurrent: zeros first, then the state it returned
            shape = (len(s["rgb"][t]),) + tuple(schema.inputs[names.index("state")].shape[1:])
            feed.update(state=np.zeros(shape, np.float32) if state is None else state,
                        starts=np.full(len(s["rgb"][t]), t == 0))
        pred = model.predict(feed)
        state = pred.get("state_out")
        actions.append(pred["logp"].argmax(-1).tolist())
    out[model_uri] = {{"actions": actions, "flavors": sorted(model.metadata.flavors), "inputs": names,
                      "outputs": model.metadata.get_output_schema().input_names(),
                      "example": sorted(model.input_example), "actions_named": model.metadata.metadata["actions"],
                      "example_logp": list(model.predict(model.input_example)["logp"].shape)}}
{extra}
print(json.dumps(out))
"""


def pyfunc_without_popbased(cwd, uri: str, jobs: list[tuple[str, str]], extra: str = "") -> dict:
    """Loads each (models:/..., samples.npz) with mlflow.pyfunc in a fresh Python where importing
    popbased fails, runs it over the samples' steps (carrying a recurrent state) and returns per
    model URI its greedy actions [steps][seats], flavours, signature names and example names
    (and what `extra`, run after them in the same Python, adds to the dict `out`)."""
    code = PYFUNC.format(uri=uri, jobs=[(m, str(path)) for m, path in jobs], extra=extra)
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def original_actions(checkpoint_file, samples) -> list:
    """The original popbased policy's greedy actions on samples.npz (views resized as in training)."""
    payload = checkpoint.read(checkpoint_file)
    policy = checkpoint.policy_from(payload, checkpoint_file).eval()
    s = np.load(samples)
    return champion.original_outputs(policy, s["rgb"], s["mask"])[0].argmax(-1).tolist()


def logged_model_of(client, version):
    """The logged model a registered version serves (its source), checked READY and an output of
    its run."""
    from mlflow.entities import LoggedModelStatus

    outputs = client.get_run(version.run_id).outputs.model_outputs
    models = [client.get_logged_model(o.model_id) for o in outputs]
    served = [m for m in models if m.artifact_location == version.source]
    assert len(served) == 1, (version.source, [m.artifact_location for m in models])
    assert version.tags["model_id"] == served[0].model_id
    assert served[0].status == LoggedModelStatus.READY and served[0].source_run_id == version.run_id
    return served[0]


@pytest.mark.slow
def test_export_champions_registers_and_loads_without_popbased(tiny_league_run):
    work = tiny_league_run
    made = popbased(work, "export", "champion", "tiny", "-o", "champs")  # by league name, ONNX
    assert made.returncode == 0, made.stderr[-3000:]
    run = open_run(work / "runs" / "tiny")
    for pop in ("open", "no_zap"):
        folder = work / "champs" / pop
        info = json.loads((folder / "policy.json").read_text())
        best = max((m for m in run.members if m.population == pop and m.fitness is not None),
                   key=lambda m: m.fitness)
        assert info["member"] == best.id and info["fitness"] == best.fitness
        assert info["verification"]["passed"] and info["verification"]["same_actions"] == 168
        assert info["verification"]["pyfunc"]["same_actions"] == 168
        assert info["mlflow_model"]["flavors"] == ["onnx", "python_function"]
        assert {"MLmodel", "policy.onnx", "input_example.json", "requirements.txt"} <= {
            f.name for f in folder.iterdir()} and not (folder / "model.onnx").exists()
        assert info["observation"]["input"] == ["N", 88, 88, 3]
        assert info["checkpoint"]["sha256"] == best.sha256
        # no path of this machine: the run and checkpoint relative to the export folder
        assert info["run"]["folder"] == "../../runs/tiny" and not Path(info["checkpoint"]["file"]).is_absolute()
        assert Path(runtime.Exported.describe(folder)["checkpoint"]["file"]) == best.checkpoint.resolve()
        assert str(work) not in (folder / "README.md").read_text()
        assert str(work).encode() not in (folder / "policy.onnx").read_bytes()
        assert info["lineage"]["history"][0].startswith("gen 0: init")
        # the no_zap champion keeps its own action set (no FIRE_ZAP)
        assert ("FIRE_ZAP" in info["actions"]) == (pop == "open")
        # onnxruntime alone reproduces the original's choices on the stored samples
        without_popbased(folder, "import onnxruntime\nsess = onnxruntime.InferenceSession('policy.onnx')\n"
                                 "logp, value = sess.run(None, {'rgb': rgb, 'mask': mask})", 3)
    client = mlflow_client(work)
    for pop in ("open", "no_zap"):
        version = client.get_model_version_by_alias(f"tiny-{pop}", "champion")
        assert version.tags["member"] == json.loads((work / "champs" / pop / "policy.json").read_text())["member"]
        member_run = client.get_run(version.run_id)
        assert member_run.data.tags["popbased.member"] == version.tags["member"]
        assert member_run.info.status == "FINISHED"  # registering did not reopen the member's run
        logged = logged_model_of(client, version)
        names = {a.path for a in client.list_logged_model_artifacts(logged.model_id)}
        assert {"MLmodel", "policy.onnx", "policy.json", "samples.npz", "README.md"} <= names
        assert client.list_artifacts(version.run_id, "checkpoint")
        assert "mlflow.pyfunc.load_model" in version.description
    # the registered champions through mlflow.pyfunc in a Python without popbased: the
    # original policy's greedy actions on every sample (24 steps x 7 seats)
    uri = f"sqlite:///{work / 'mlflow.db'}"
    got = pyfunc_without_popbased(work, uri, [(f"models:/tiny-{pop}@champion", work / "champs" / pop / "samples.npz")
                                              for pop in ("open", "no_zap")])
    for pop in ("open", "no_zap"):
        info = json.loads((work / "champs" / pop / "policy.json").read_text())
        loaded = got[f"models:/tiny-{pop}@champion"]
        info = runtime.Exported.describe(work / "champs" / pop)
        assert loaded["actions"] == original_actions(info["checkpoint"]["file"], work / "champs" / pop / "samples.npz")
        assert loaded["flavors"] == ["onnx", "python_function"]
        assert loaded["inputs"] == ["rgb", "mask"] and loaded["outputs"] == ["logp", "value"]
        assert loaded["example"] == ["mask", "rgb"] and loaded["actions_named"] == info["actions"]
        assert loaded["example_logp"] == [1, len(info["actions"])]  # the input example runs as it is
    # a second export moves the alias to a new version
    again = popbased(work, "export", "champion", "runs/tiny", "--population", "open", "--format",
                     "torchscript", "-o", "champs-ts")
    assert again.returncode == 0, again.stderr[-3000:]
    assert int(client.get_model_version_by_alias("tiny-open", "champion").version) == 2
    without_popbased(work / "champs-ts" / "open", "net = torch.jit.load('policy.pt')\n"
                     "logp, value = net(torch.from_numpy(rgb), torch.from_numpy(mask))", 5)


@pytest.mark.slow
def test_mlflow_format_loads_from_the_registry(tiny_league_run):
    work = tiny_league_run
    made = popbased(work, "export", "champion", "tiny", "--population", "no_zap", "--by", "league-score",
                    "--format", "mlflow", "-o", "champs-mlflow")
    assert made.returncode == 0, made.stderr[-3000:]
    # loaded from the registry, not from the folder: through mlflow.pyfunc (its loader in the
    # model's code/ folder needs torch, not popbased) and as the pytorch flavour's network
    uri = f"sqlite:///{work / 'mlflow.db'}"
    samples = work / "champs-mlflow" / "no_zap" / "samples.npz"
    loaded = pyfunc_without_popbased(work, uri, [("models:/tiny-no_zap@champion", samples)], extra="""
import mlflow.pytorch, torch
net = mlflow.pytorch.load_model("models:/tiny-no_zap@champion")
out["pytorch"] = [net(torch.from_numpy(r), torch.from_numpy(m))[0].argmax(-1).tolist()
                  for r, m in zip(s["rgb"], s["mask"])]""")
    info = runtime.Exported.describe(work / "champs-mlflow" / "no_zap")
    expected = original_actions(info["checkpoint"]["file"], samples)
    assert loaded["models:/tiny-no_zap@champion"]["flavors"] == ["python_function", "pytorch"]
    assert loaded["models:/tiny-no_zap@champion"]["actions"] == expected and loaded["pytorch"] == expected


@pytest.mark.slow
def test_export_bad_input_is_one_line_and_writes_nothing(tiny_league_run):
    work = tiny_league_run
    (work / "taken" / "open").mkdir(parents=True)
    (work / "taken" / "open" / "mine.txt").write_text("keep me")
    run_one_line_error(popbased(work, "export", "champion", "tiny", "-o", "taken"), "add --force")
    assert (work / "taken" / "open" / "mine.txt").read_text() == "keep me"
    run_one_line_error(popbased(work, "export", "champion", "tiny", "-o", "x", "--format", "pickle"),
                       "'pickle' is not one of 'onnx', 'torchscript', 'mlflow'")
    run_one_line_error(popbased(work, "export", "champion", "tiny", "-o", "x", "--population", "farmer"),
                       "--population 'farmer': runs/tiny has open, no_zap")
    run_one_line_error(popbased(work, "export", "champion", "nonesuch", "-o", "x"),
                       "no such run folder, league name or MLflow run id")
    run_one_line_error(popbased(work, "export", "champion", "0" * 32, "-o", "x"), "no such MLflow run")
    run_one_line_error(popbased(work, "export", "champion", "tiny", "-o", "x", "--tracking-uri",
                                "http://127.0.0.1:9"), "does not answer")
    assert not (work / "x").exists()


# ---------------------------------------------------------------------- no league needed


@pytest.fixture(scope="module")
def recurrent_exports(tmp_path_factory):
    """(run, member, {format: policy.json}): a recurrent member (LSTM 16) of an untracked PBT run
    folder, exported in every format to RUN/out/FORMAT."""
    root = tmp_path_factory.mktemp("recurrent")
    learner = Learner("m0", 11, ["NOOP", "FORWARD", "FIRE_ZAP"], net=NetConfig(lstm=16), device="cpu")
    with torch.no_grad():
        for p in learner.policy.parameters():
            p.add_(torch.randn_like(p) * 0.3)  # untrained heads are near-uniform: make choices matter
    path = root / "gen-0001" / "m0.pt"
    digest = checkpoint.save(learner, path)
    (root / "lineage.jsonl").write_text("")
    member = MemberInfo("m0", "pop", "open", path, digest, 1.0, {}, {"lr": 4e-4}, 0, None, (), 0)
    run = RunFolder(root, "pbt", "pop", 1, "open", {}, (member,), {})
    infos = {fmt: champion.export_member(run, member, fmt, root / "out" / fmt, "fitness", sample_steps=12)
             for fmt in champion.FORMATS}
    return run, member, infos


@pytest.mark.parametrize("fmt", champion.FORMATS)
def test_recurrent_policy_exports_carry_the_state(recurrent_exports, fmt):
    run, member, infos = recurrent_exports
    info, folder = infos[fmt], run.path / "out" / fmt
    assert info["recurrent"] and info["inputs"] == ["rgb", "mask", "state", "starts"]
    assert info["verification"]["passed"] and info["verification"]["same_actions"] == 12 * 7
    assert info["verification"]["pyfunc"]["same_actions"] == 12 * 7
    # dropping the state changes the outputs: the check above did exercise the recurrence
    exported = runtime.Exported(folder)
    s = np.load(folder / "samples.npz")
    carried = exported.step(s["rgb"][0], s["mask"][0], None, np.ones(7, bool))[2]
    with_state = exported.step(s["rgb"][1], s["mask"][1], carried, np.zeros(7, bool))[0]
    without = exported.step(s["rgb"][1], s["mask"][1], None, np.ones(7, bool))[0]
    assert np.abs(with_state - without).max() > 1e-4
    assert "mlflow.pyfunc.load_model('.')" in (folder / "README.md").read_text()


def test_recurrent_champions_registered_run_through_pyfunc_without_popbased(recurrent_exports, monkeypatch):
    from mlflow.tracking import MlflowClient

    run, member, infos = recurrent_exports
    monkeypatch.chdir(run.path / "out")  # were artifacts to go to ./mlruns, not into the repo
    uri = f"sqlite:///{run.path / 'mlflow.db'}"
    regs = [registry.register(run, member, run.path / "out" / fmt, infos[fmt], uri) for fmt in champion.FORMATS]
    assert [(r["name"], r["version"]) for r in regs] == [("pop", 1), ("pop", 2), ("pop", 3)]
    client = MlflowClient(uri, registry_uri=uri)
    versions = [client.get_model_version("pop", str(v)) for v in (1, 2, 3)]
    assert int(client.get_model_version_by_alias("pop", "champion").version) == 3
    for version, reg in zip(versions, regs):
        export_run = client.get_run(version.run_id)  # the run folder was not tracked: an export run
        assert export_run.data.tags["popbased.kind"] == "export" and export_run.info.status == "FINISHED"
        assert logged_model_of(client, version).model_id == reg["model_id"]
        assert "`state_out`" in version.description
    experiment = client.get_experiment_by_name("pbt-pop")
    assert not client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'")
    # the models and checkpoints are beside the store, none in ./mlruns
    assert experiment.artifact_location.removeprefix("file://") == str(run.path / "mlartifacts" / "pbt-pop")
    assert all(Path(v.source.removeprefix("file://")).is_relative_to(run.path / "mlartifacts") for v in versions)
    assert not (run.path / "out" / "mlruns").exists()
    assert client.get_logged_model(regs[0]["model_id"]).params == {"lr": "0.0004"}
    # each version through mlflow.pyfunc without popbased, the state carried across 12 steps
    samples = {fmt: run.path / "out" / fmt / "samples.npz" for fmt in champion.FORMATS}
    jobs = [("models:/pop/1", samples["onnx"]), ("models:/pop/2", samples["torchscript"]),
            ("models:/pop@champion", samples["mlflow"])]
    got = pyfunc_without_popbased(run.path, uri, jobs)
    for (model_uri, views), fmt in zip(jobs, champion.FORMATS):
        assert got[model_uri]["actions"] == original_actions(member.checkpoint, views), model_uri
        assert got[model_uri]["flavors"] == sorted(champion.FLAVORS[fmt])
        assert got[model_uri]["inputs"] == ["rgb", "mask", "state", "starts"]
        assert got[model_uri]["outputs"] == ["logp", "value", "state_out"]
        assert got[model_uri]["example"] == ["mask", "rgb", "starts", "state"] and got[model_uri]["example_logp"] == [1, 3]
