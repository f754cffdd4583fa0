"""popbased.experiment.carry: an experiment's finished steps kept in results/NAME/state and
restored into a fresh experiment folder (a new checkout), whole runs at a time, with no
machine's paths in what is kept."""

import json
import re
import shutil

import pytest

from conftest import POPS
from popbased.experiment import carry, report, spec, steps
from popbased.experiment.record import RECORD, record
from popbased.study.steps import write_marker
from test_experiment_report import FILE, RATES, REPS, episodes


def plan_in(tmp_path, out):
    exp = spec.load(tmp_path / "exp.toml")
    every = steps.plan(exp, out, "sqlite:///m.db")
    out.mkdir(parents=True, exist_ok=True)
    (out / RECORD).write_text(json.dumps(record(exp, every, out)))
    return every


@pytest.fixture
def finished(tmp_path, monkeypatch):
    """An experiment folder whose evaluations in RATES are done (with their training and
    export), markers carrying this machine's paths as real ones do."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(POPS / "open.toml", tmp_path / "open.toml")
    (tmp_path / "ref.pt").write_bytes(b"")
    (tmp_path / "exp.toml").write_text(FILE)
    out = tmp_path / "out"
    every = plan_in(tmp_path, out)
    done = {n for n in RATES}
    for p in every:
        key = p.name.split("/", 1)[1]
        run = key.removesuffix("/population")
        if p.stage == "eval" and key in done:
            p.step.fresh.mkdir(parents=True)
            episodes(RATES[key]).to_csv(p.step.fresh / "episodes.csv", index=False)
        elif p.stage in ("train", "export") and run in done:
            pass
        else:
            continue
        write_marker(p.name, p.step.done, {"argv": ["/work/x/python", str(out)], "seconds": 2.0,
                                           "result": {"agent_steps": 100_800, "out": str(out),
                                                      "stdout": f"written to {out}"}})
        if p.stage == "export":
            champ = out / "champions" / p.arm / f"seed-{p.seed}" / "open"
            champ.mkdir(parents=True)
            (champ / "policy.json").write_text(json.dumps({
                "member": "m1", "evolved": {"shaping.last_apples": -2.5},
                "lineage": {"copied_from": ["m0"], "birth_generation": 3},
                "run": {"folder": str(out / "runs")}, "checkpoint": {"file": "/abs/m1.pt"}}))
    return out, every


LINEAGE = [  # pbt seed 0: its champion m1 copied m0 after generation 1 and mutated
    {"member": "m0", "generation": 0, "agent_step": 0, "kind": "init", "values": {"shaping.last_apples": -1.0}},
    {"member": "m1", "generation": 0, "agent_step": 0, "kind": "init", "values": {"shaping.last_apples": -3.0}},
    {"member": "m1", "generation": 1, "agent_step": 50, "kind": "exploit", "values": {"shaping.last_apples": -1.0},
     "donor": "m0"},
    {"member": "m1", "generation": 1, "agent_step": 50, "kind": "explore", "values": {"shaping.last_apples": -2.5}},
    {"member": "m0", "generation": 1, "agent_step": 50, "kind": "keep", "values": {"shaping.last_apples": -1.0}},
    {"member": "m1", "generation": 2, "agent_step": 100, "kind": "keep", "values": {"shaping.last_apples": -2.5}}]


def test_a_fresh_checkout_continues_from_the_kept_steps(finished, tmp_path):
    out, every = finished
    results = tmp_path / "results" / "handmade"
    run = steps.run_folder(out, "pbt", 0)
    run.mkdir(parents=True)
    (run / steps.LINEAGE).write_text("".join(json.dumps(e) + "\n" for e in LINEAGE))
    report.write(out, results, REPS)
    assert (out / report.STATS_CACHE).is_file() and not (results / report.STATS_CACHE).exists()
    kept = carry.save(out, results, every)
    done = [p for p in every if p.step.done.exists()]
    assert kept == len(done) > 0
    for f in (results / carry.STATE).rglob("*"):  # nothing of this machine's folders
        if f.is_file():
            assert str(tmp_path) not in f.read_text() and not re.search(r'"/(work|abs)/', f.read_text()), f
    before = json.loads((out / "summary.json").read_text())

    fresh = tmp_path / "elsewhere" / "out"  # another checkout: nothing but results/
    again = plan_in(tmp_path, fresh)
    names = carry.restore(fresh, results, again)
    assert sorted(names) == sorted(p.name for p in done)
    assert all(p.step.done.exists() == (p.name in names) for p in again)
    after = report.collect(fresh, REPS)
    for arm in ("pbt", "ppo", "old"):
        assert {k: r["score"] for k, r in after["arms"][arm]["runs"].items()} == \
            {k: r["score"] for k, r in before["arms"][arm]["runs"].items()}
    assert after["arms"]["pbt"]["runs"]["0"]["champion"]["genes"] == {"shaping.last_apples": -2.5}
    # the run's lineage is kept (not its folder): the champion's line of descent is the same
    descent = [{"generation": 1, "values": {"shaping.last_apples": -1.0}},
               {"generation": 2, "values": {"shaping.last_apples": -2.5}}]
    assert before["arms"]["pbt"]["runs"]["0"]["champion"]["descent"] == descent
    assert after["arms"]["pbt"]["runs"]["0"]["champion"]["descent"] == descent
    assert (results / carry.STATE / "lineage" / "pbt" / "seed-0.jsonl").is_file()
    assert not steps.run_folder(fresh, "pbt", 0).exists()  # a retraining's folder stays free
    assert after["baselines"]["reference"]["score"] == pytest.approx(100.0)
    assert carry.restore(fresh, results, again) == []  # done now: nothing twice
    assert json.loads(done[0].step.done.read_text())["seconds"] == 2.0
    marker = json.loads((fresh / done[0].step.done.relative_to(out)).read_text())
    assert marker["restored"] is True and marker["step"] == done[0].name and "argv" not in marker


def test_a_run_is_restored_whole_or_not_at_all(finished, tmp_path):
    out, every = finished
    results = tmp_path / "results" / "handmade"
    carry.save(out, results, every)
    # pbt seed 1's population evaluation was not kept: a rerun that does it must train again,
    # so none of seed 1's steps are restored; seed 0 (complete) is
    (results / carry.STATE / "steps" / "eval-pbt-seed-1-population.json").unlink()
    fresh = tmp_path / "elsewhere" / "out"
    again = plan_in(tmp_path, fresh)
    names = carry.restore(fresh, results, again)
    assert "train/pbt/seed-0" in names and "eval/pbt/seed-0/population" in names
    assert not [n for n in names if "pbt/seed-1" in n]
    # ... unless the rerun leaves population evaluations out (--only train,export,eval)
    fresh2 = tmp_path / "third" / "out"
    again2 = plan_in(tmp_path, fresh2)
    chosen = [p for p in again2 if not p.population]
    names2 = carry.restore(fresh2, results, again2, chosen)
    assert {"train/pbt/seed-1", "export/pbt/seed-1", "eval/pbt/seed-1"} <= set(names2)


MATRIX = '\n[matrix]\narms = ["pbt", "ppo"]\nmodes = ["resident"]\nepisodes = 2\n'


def test_a_matrix_added_later_trains_its_arms_runs_again(finished, tmp_path):
    """A restored run has no run folder and its champion no network: a cross-play matrix (a step
    of a seed, not of a run) added to the file afterwards needs both, so the runs it needs are
    not restored, and runs restored before it was added are taken back, whole; nothing that
    finished in the folder itself is touched."""
    out, every = finished
    results = tmp_path / "results" / "handmade"
    carry.save(out, results, every)
    fresh = tmp_path / "elsewhere" / "out"
    restored = carry.restore(fresh, results, plan_in(tmp_path, fresh))
    assert "export/pbt/seed-0" in restored and "train/ppo/seed-1" in restored
    champion = fresh / "champions" / "pbt" / "seed-0" / "open"
    assert (champion / "policy.json").is_file() and not (champion / "policy.onnx").exists()

    (tmp_path / "exp.toml").write_text(FILE + MATRIX)
    again = plan_in(tmp_path, fresh)
    assert carry.unrestore(fresh, again, dry=True) == {
        "pbt/seed-0": ["matrix/seed-0"], "pbt/seed-1": ["matrix/seed-1"],
        "ppo/seed-0": ["matrix/seed-0"], "ppo/seed-1": ["matrix/seed-1"], "ppo/seed-2": ["matrix/seed-2"]}
    assert {p.name for p in again if p.step.done.exists()} == set(restored)
    taken = carry.unrestore(fresh, again)
    assert set(taken) == {"pbt/seed-0", "pbt/seed-1", "ppo/seed-0", "ppo/seed-1", "ppo/seed-2"}
    left = {p.name for p in again if p.step.done.exists()}
    assert left == {"eval/random", "eval/reference", "eval/old"}
    assert not champion.parent.exists()
    assert not steps.lineages(fresh, "pbt", 0)[1].exists()
    assert not steps.eval_folder(fresh, "pbt", 0).exists()
    assert carry.restore(fresh, results, again) == []  # the matrix still needs them: not restored again
    assert carry.unrestore(fresh, again) == {}

    # a fresh checkout with the matrix in the file restores only what no matrix needs
    third = tmp_path / "third" / "out"
    names = carry.restore(third, results, plan_in(tmp_path, third))
    assert set(names) == {"eval/random", "eval/reference", "eval/old"}
    # ... or all of it when the rerun leaves the matrix out (--only train,export,eval)
    fourth = tmp_path / "fourth" / "out"
    plan4 = plan_in(tmp_path, fourth)
    assert set(carry.restore(fourth, results, plan4, [p for p in plan4 if p.stage != "matrix"])) == set(restored)

    # steps that finished in the folder itself stay, matrix or not
    assert carry.unrestore(out, plan_in(tmp_path, out)) == {}
    assert all(p.step.done.exists() for p in every if p.name in restored)


def test_a_kept_champion_is_not_played(finished, tmp_path):
    """The genes-only policy.json an experiment keeps of a champion is refused as a policy in
    one line, not a KeyError from deep inside an evaluation."""
    from popbased.errors import BadInput
    from popbased.evaluation import policies

    out, every = finished
    results = tmp_path / "results" / "handmade"
    carry.save(out, results, every)
    kept = results / carry.STATE / "champions" / "pbt" / "seed-0" / "open"
    with pytest.raises(BadInput, match=r"not a playable export folder: .*format None"):
        policies.resolve(str(kept))
    info = json.loads((kept / "policy.json").read_text())
    (kept / "policy.json").write_text(json.dumps({**info, "format": "onnx"}))
    with pytest.raises(BadInput, match=r"policy.onnx is missing"):
        policies.resolve(str(kept))


def test_a_run_trained_again_drops_its_older_steps_from_the_state(finished, tmp_path):
    """When a run trains again in OUT (say, after unrestore), what its older training left in
    results/state (its export, evaluations, a matrix that needs it) goes at the next save, so
    another checkout never restores an evaluation of the old training beside the new one."""
    out, every = finished
    results = tmp_path / "results" / "handmade"
    state = results / carry.STATE
    (tmp_path / "exp.toml").write_text(FILE + MATRIX)
    every = plan_in(tmp_path, out)
    by = {p.name: p for p in every}
    matrix = by["matrix/seed-0"]
    matrix.step.fresh.mkdir(parents=True)
    for name in carry.KEPT["matrix"]:
        (matrix.step.fresh / name).write_text("{}")
    write_marker(matrix.name, matrix.step.done, {"seconds": 1.0})
    carry.save(out, results, every)
    old = ["export/pbt/seed-0", "eval/pbt/seed-0", "eval/pbt/seed-0/population", "matrix/seed-0"]
    assert all((state / by[n].step.done.relative_to(out)).is_file() for n in old)
    assert (state / "champions" / "pbt" / "seed-0").is_dir() and (state / "eval" / "pbt" / "seed-0").is_dir()

    for name in ["train/pbt/seed-0"] + old:  # pbt seed 0 trains again: only its training is done so far
        by[name].step.done.unlink()
    write_marker("train/pbt/seed-0", by["train/pbt/seed-0"].step.done, {"seconds": 3.0})
    carry.save(out, results, every)
    assert json.loads((state / by["train/pbt/seed-0"].step.done.relative_to(out)).read_text())["seconds"] == 3.0
    assert not [n for n in old if (state / by[n].step.done.relative_to(out)).exists()]
    assert not (state / "champions" / "pbt" / "seed-0").exists() and not (state / "eval" / "pbt" / "seed-0").exists()
    assert (state / by["eval/pbt/seed-1"].step.done.relative_to(out)).is_file()  # other runs stay
    assert (state / by["eval/ppo/seed-0"].step.done.relative_to(out)).is_file()
    fresh = tmp_path / "elsewhere" / "out"
    names = carry.restore(fresh, results, plan_in(tmp_path, fresh))
    assert not [n for n in names if "pbt/seed-0" in n]
