"""Champion export (popbased.export.champion) from a real tiny league (real substrates, real
Ray, the real MLflow store in ./mlflow.db): registered, loaded without popbased, bad input; a
recurrent policy's exports carry its state."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from popbased.export import champion, runtime
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
        assert info["observation"]["input"] == ["N", 88, 88, 3]
        assert info["checkpoint"]["sha256"] == best.sha256
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
        names = {a.path for a in client.list_artifacts(version.run_id, "champion")}
        assert "champion/policy.onnx" in names and "champion/policy.json" in names
        assert client.list_artifacts(version.run_id, "checkpoint")
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
    uri = f"sqlite:///{work / 'mlflow.db'}"  # loaded from the registry, not from the folder
    without_popbased(work / "champs-mlflow" / "no_zap", f"""import mlflow, mlflow.pytorch
mlflow.set_tracking_uri({uri!r}); mlflow.set_registry_uri({uri!r})
net = mlflow.pytorch.load_model("models:/tiny-no_zap@champion")
logp, value = net(torch.from_numpy(rgb), torch.from_numpy(mask))""", 1)


@pytest.mark.slow
def test_export_bad_input_is_one_line_and_writes_nothing(tiny_league_run):
    work = tiny_league_run
    (work / "taken" / "open").mkdir(parents=True)
    (work / "taken" / "open" / "mine.txt").write_text("keep me")
    run_one_line_error(popbased(work, "export", "champion", "tiny", "-o", "taken"), "add --force")
    assert (work / "taken" / "open" / "mine.txt").read_text() == "keep me"
    run_one_line_error(popbased(work, "export", "champion", "tiny", "-o", "x", "--format", "pickle"),
                       "choose one of onnx, torchscript, mlflow")
    run_one_line_error(popbased(work, "export", "champion", "tiny", "-o", "x", "--population", "farmer"),
                       "--population 'farmer': runs/tiny has open, no_zap")
    run_one_line_error(popbased(work, "export", "champion", "nonesuch", "-o", "x"),
                       "no such run folder, league name or MLflow run id")
    run_one_line_error(popbased(work, "export", "champion", "0" * 32, "-o", "x"), "no such MLflow run")
    run_one_line_error(popbased(work, "export", "champion", "tiny", "-o", "x", "--tracking-uri",
                                "http://127.0.0.1:9"), "does not answer")
    assert not (work / "x").exists()


# ---------------------------------------------------------------------- no league needed


@pytest.mark.parametrize("fmt", champion.FORMATS)
def test_recurrent_policy_exports_carry_the_state(tmp_path, fmt):
    learner = Learner("m0", 11, ["NOOP", "FORWARD", "FIRE_ZAP"], net=NetConfig(lstm=16), device="cpu")
    with torch.no_grad():
        for p in learner.policy.parameters():
            p.add_(torch.randn_like(p) * 0.3)  # untrained heads are near-uniform: make choices matter
    path = tmp_path / "gen-0001" / "m0.pt"
    digest = checkpoint.save(learner, path)
    (tmp_path / "lineage.jsonl").write_text("")
    member = MemberInfo("m0", "pop", "open", path, digest, 1.0, {}, {}, 0, None, (), 0)
    run = RunFolder(tmp_path, "pbt", "pop", 1, "open", {}, (member,), {})
    info = champion.export_member(run, member, fmt, tmp_path / "out" / "pop", "fitness", sample_steps=12)
    assert info["recurrent"] and info["inputs"] == ["rgb", "mask", "state", "starts"]
    assert info["verification"]["passed"] and info["verification"]["same_actions"] == 12 * 7
    # dropping the state changes the outputs: the check above did exercise the recurrence
    exported = runtime.Exported(tmp_path / "out" / "pop")
    s = np.load(tmp_path / "out" / "pop" / "samples.npz")
    carried = exported.step(s["rgb"][0], s["mask"][0], None, np.ones(7, bool))[2]
    with_state = exported.step(s["rgb"][1], s["mask"][1], carried, np.zeros(7, bool))[0]
    without = exported.step(s["rgb"][1], s["mask"][1], None, np.ones(7, bool))[0]
    assert np.abs(with_state - without).max() > 1e-4
