"""Champion export, episode videos and LEAGUE/MEMBER references, on a real tiny league
(real substrates, real Ray, real MLflow store in ./mlflow.db)."""

import json
import subprocess
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from popbased.env.instance import downsample
from popbased.export import champion, model, runtime
from popbased.ppo import checkpoint
from popbased.ppo.config import NetConfig
from popbased.ppo.learner import Learner
from popbased.ppo.policy import Policy
from popbased.runs.folder import MemberInfo, RunFolder, open_run
from conftest import one_line_error as _one_line_error, popbased, tiny_league


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


def one_line_error(result, text):
    return _one_line_error(result, text, ignore="its newest run under")


@pytest.fixture(scope="module")
def league(ray_local, tmp_path_factory):
    """A tiny league of one generation under WORK/runs/tiny, tracked in WORK/mlflow.db."""
    work = tmp_path_factory.mktemp("work")
    launched = popbased(work, "league", "launch", tiny_league(work), "--generations", 1, "--workers", 1,
                        "--rollout-length", 50, "--out", "runs/tiny", "--ray-address", ray_local["address"])
    assert launched.returncode == 0, launched.stderr[-3000:]
    return work


def _client(work):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{work / 'mlflow.db'}"
    return MlflowClient(uri, registry_uri=uri)


def test_export_champions_registers_and_loads_without_popbased(league):
    work = league
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
    client = _client(work)
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


def test_mlflow_format_loads_from_the_registry(league):
    work = league
    made = popbased(work, "export", "champion", "tiny", "--population", "no_zap", "--by", "league-score",
                    "--format", "mlflow", "-o", "champs-mlflow")
    assert made.returncode == 0, made.stderr[-3000:]
    uri = f"sqlite:///{work / 'mlflow.db'}"  # loaded from the registry, not from the folder
    without_popbased(work / "champs-mlflow" / "no_zap", f"""import mlflow, mlflow.pytorch
mlflow.set_tracking_uri({uri!r}); mlflow.set_registry_uri({uri!r})
net = mlflow.pytorch.load_model("models:/tiny-no_zap@champion")
logp, value = net(torch.from_numpy(rgb), torch.from_numpy(mask))""", 1)


def test_export_bad_input_is_one_line_and_writes_nothing(league):
    work = league
    (work / "taken" / "open").mkdir(parents=True)
    (work / "taken" / "open" / "mine.txt").write_text("keep me")
    one_line_error(popbased(work, "export", "champion", "tiny", "-o", "taken"), "add --force")
    assert (work / "taken" / "open" / "mine.txt").read_text() == "keep me"
    one_line_error(popbased(work, "export", "champion", "tiny", "-o", "x", "--format", "pickle"),
                   "choose one of onnx, torchscript, mlflow")
    one_line_error(popbased(work, "export", "champion", "tiny", "-o", "x", "--population", "farmer"),
                   "--population 'farmer': runs/tiny has open, no_zap")
    one_line_error(popbased(work, "export", "champion", "nonesuch", "-o", "x"),
                   "no such run folder, league name or MLflow run id")
    one_line_error(popbased(work, "export", "champion", "0" * 32, "-o", "x"), "no such MLflow run")
    one_line_error(popbased(work, "export", "champion", "tiny", "-o", "x", "--tracking-uri",
                            "http://127.0.0.1:9"), "does not answer")
    assert not (work / "x").exists()


def test_references_by_mlflow_run_id_and_completion(league, monkeypatch):
    from popbased.runs import refs

    work = league
    runs = json.loads((work / "runs" / "tiny" / "tracking.json").read_text())["runs"]
    tree = popbased(work, "lineage", "tree", runs["league"])
    assert tree.returncode == 0 and "open/m0" in tree.stdout and "no_zap/m1" in tree.stdout
    show = popbased(work, "lineage", "show", runs["no_zap/m1"])
    assert show.returncode == 0 and show.stdout.startswith("no_zap/m1 in ")
    by_name = popbased(work, "lineage", "show", "tiny/open/m0")
    assert by_name.returncode == 0 and by_name.stdout.startswith("open/m0 in runs/tiny")
    one_line_error(popbased(work, "lineage", "show", runs["league"]), "not of a member")
    monkeypatch.chdir(work)
    assert [c.value for c in refs.complete_league(None, None, "runs/t")] == ["runs/tiny"]
    members = [c.value for c in refs.complete_member(None, None, "runs/tiny/no")]
    assert members == ["runs/tiny/no_zap/m0", "runs/tiny/no_zap/m1"]
    graph = popbased(work, "lineage", "graph", "tiny", "-o", "tiny.png")
    assert graph.returncode == 0 and (work / "tiny.png").read_bytes()[:4] == b"\x89PNG"


def _frames(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def test_render_member_export_and_random(league):
    work = league
    member = popbased(work, "render", "tiny/no_zap/m0", "-o", "m.mp4", "--steps", 40)
    assert member.returncode == 0, member.stderr[-3000:]
    frames = _frames(work / "m.mp4")
    assert len(frames) == 41 and frames[0].shape[1] == 3 * 192  # WORLD.RGB of open, x3
    assert "wrote m.mp4: 41 frames" in member.stdout
    if not (work / "champs" / "open").exists():
        assert popbased(work, "export", "champion", "tiny", "-o", "champs").returncode == 0
    exported = popbased(work, "render", "champs/open", "-o", "e.gif", "--steps", 12, "-p", "regrowth=0.1")
    assert exported.returncode == 0, exported.stderr[-3000:]
    from PIL import Image

    assert Image.open(work / "e.gif").n_frames == 13
    rand = popbased(work, "render", "--random", "--substrate", "scarcity", "-o", "r.mp4", "--steps", 10)
    assert rand.returncode == 0 and len(_frames(work / "r.mp4")) == 11
    before = (work / "r.mp4").stat().st_mtime_ns
    one_line_error(popbased(work, "render", "--random", "--substrate", "open", "-o", "r.mp4"), "--force")
    assert (work / "r.mp4").stat().st_mtime_ns == before
    one_line_error(popbased(work, "render", "--random", "-o", "r.avi"), ".mp4 or .gif")
    one_line_error(popbased(work, "render", "tiny/open/m0", "--random", "-o", "z.mp4"), "not both")
    one_line_error(popbased(work, "render", "--random", "--substrate", "opne", "-o", "z.mp4"), "open")
    one_line_error(popbased(work, "render", "tiny/open/m7", "-o", "z.mp4"), "no member 'open/m7'")
    assert not (work / "z.mp4").exists()


def test_league_member_runs_record_losses_and_zaps(league):
    client = _client(league)
    experiment = client.get_experiment_by_name("league-tiny")
    runs = client.search_runs([experiment.experiment_id])
    members = {r.data.tags["popbased.member"]: r for r in runs if "popbased.member" in r.data.tags
               and r.data.tags.get("popbased.kind") != "export"}
    assert sorted(members) == ["no_zap/m0", "no_zap/m1", "open/m0", "open/m1"]
    for m, r in members.items():
        metrics = r.data.metrics
        assert metrics["train/value_loss"] > 0 and "train/policy_loss" in metrics
        assert "episode/gini" in metrics and metrics["episode/seats"] > 0
        if m.startswith("no_zap"):
            assert metrics["episode/zaps_fired"] == 0  # masked in the open arena
        assert r.data.tags["popbased.folder"].endswith("runs/tiny")


# ---------------------------------------------------------------------- no league needed
def test_pooling_inside_the_model_is_opencv_area_resize():
    rng = np.random.default_rng(0)
    for size in (44, 22, 11, 8):
        factor = 88 // size
        frames = rng.integers(0, 256, (7, 88, 88, 3), dtype=np.uint8)
        for k in range(min(size, 8)):  # blocks whose mean is exactly k + 0.5 (rounding matters)
            block = np.full(factor * factor, 2 * k + 1, np.uint8)
            block[factor * factor // 2:] += 1
            if factor % 2 == 0:
                frames[0, :factor, k * factor:(k + 1) * factor, 0] = block.reshape(factor, factor)
        expected = np.zeros((7, size, size, 3), np.uint8)
        downsample(frames, expected)
        policy = Policy(size, ["A", "B"], NetConfig(conv_channels=(4,), conv_strides=(1,), mlp=(8,)))
        wrapped = model.wrap(policy)
        assert model.input_size(policy) == 88
        got = wrapped.pool(torch.from_numpy(frames).permute(0, 3, 1, 2).float()).permute(0, 2, 3, 1)
        assert np.array_equal(got.numpy().astype(np.uint8), expected), size
    # 4x4 and 2x2 views: OpenCV's fixed-point result is not a plain mean; such exports take
    # views resized outside (as policy.json says)
    for size in (4, 2):
        assert model.input_size(SimpleNamespace(obs_size=size)) == size


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


def test_member_stats_average_learners_and_seats():
    from popbased.population.member_stats import MemberStats

    stats = MemberStats()
    stats.add_learners({"a": {"policy_loss": 0.5, "value_loss": 1.0}, "b": {"policy_loss": float("nan")}})
    stats.add_learners({"a": {"policy_loss": 1.5}})
    stats.add_episodes([{"members": ["a", "a", "b"], "returns": [1, 3, 5], "apples_eaten": [1, 3, 5],
                         "zaps_fired": [2, 0, 1], "zap_hits": [0, 0, 1], "zapped": [1, 0, 0],
                         "per_capita_return": 3.0, "gini": 0.2, "depleted": False}])
    a = stats.of("a")
    assert a["train/policy_loss"] == 1.0 and a["train/value_loss"] == 1.0
    assert a["episode/return"] == 2.0 and a["episode/zaps_fired"] == 1.0 and a["episode/seats"] == 2
    assert a["episode/gini"] == 0.2 and a["episode/depleted"] == 0.0
    assert "train/policy_loss" not in stats.of("b") and stats.of("b")["episode/zap_hits"] == 1.0
    stats.reset()
    assert stats.of("a") == {}
