"""A rerun of `popbased experiment run` continues its folder only with the plan its finished
steps ran: a changed setting or arm definition that touches finished steps is refused (one
line, exit 2, nothing recorded lost), whether the steps are in OUT or kept in results/NAME/state;
added seeds, a changed note, the tuning experiments named and arms with nothing finished
are no change. An experiment folder
is a kind of its own: `popbased status` shows it as `experiment status` does, and no study is
run into it."""

import json
import shutil

import pytest

from conftest import POPS, ROOT, invoke
from popbased.errors import BadInput
from popbased.experiment import carry, spec, steps
from popbased.experiment.record import RECORD, changes, record
from popbased.experiment.run import unchanged
from popbased.runs.claim import claim
from test_experiment_status import FILE, half_done  # noqa: F401  (the fixture)


def replan(tmp_path, out, text=None):
    """The plan the experiment file (rewritten to `text` when given) makes now."""
    if text is not None:
        (tmp_path / "exp.toml").write_text(text)
    exp = spec.load(tmp_path / "exp.toml")
    return exp, record(exp, steps.plan(exp, out, "sqlite:///m.db"), out)


def refusal(tmp_path, out, text, results=None):
    exp, plan = replan(tmp_path, out, text)
    with pytest.raises(BadInput) as err:
        unchanged(exp, plan, out, results or tmp_path / "results")
    return str(err.value)


def test_a_changed_setting_or_arm_with_finished_steps_is_refused(half_done, tmp_path):
    out = half_done
    said = refusal(tmp_path, out, FILE.replace("episodes = 10", "episodes = 20"))
    assert f"{out} was made with another plan (episodes 10 -> 20)" in said
    assert "another -o (or -o with --force, which moves it aside)" in said
    said = refusal(tmp_path, out, FILE.replace("generations = 4", "generations = 6"))
    assert "arm pbt: generations 4 -> 6" in said
    said = refusal(tmp_path, out, FILE.replace("last_apples = -3.0", "last_apples = -2.0"))
    assert "arm ppo: shaping {'last_apples': -3.0} -> {'last_apples': -2.0}" in said
    # the population file the arm names, changed in place: its contents are part of the plan
    (tmp_path / "exp.toml").write_text(FILE)
    pop = tmp_path / "open.toml"
    pop.write_text(pop.read_text().replace("bounds = [-1.0, 0.0]", "bounds = [-2.0, 0.0]", 1))
    assert "(arm pbt: its population or league file's contents)" in refusal(tmp_path, out, None)


def test_a_setting_counts_where_it_shaped_finished_steps_and_a_started_run_counts(half_done, tmp_path):
    out = half_done
    for marker in (out / "steps").glob("eval-*.json"):  # no evaluation finished
        marker.unlink()
    exp, plan = replan(tmp_path, out, FILE.replace("episodes = 10", "episodes = 20"))
    unchanged(exp, plan, out, tmp_path / "results")  # the episodes shaped no finished step
    assert "agent_steps 100000 -> 200000" in refusal(
        tmp_path, out, FILE.replace("agent_steps = 100_000", "agent_steps = 200_000"))
    # pbt seed 1 never finished, but its run started (state.json): a rerun would continue it,
    # so changing the arm under it is refused too
    for marker in (out / "steps").glob("*pbt*.json"):
        marker.unlink()
    assert "arm pbt: generations 4 -> 3" in refusal(tmp_path, out, FILE.replace("generations = 4", "generations = 3"))
    (out / "runs" / "pbt" / "seed-1" / "state.json").unlink()
    exp, plan = replan(tmp_path, out, FILE.replace("generations = 4", "generations = 3"))
    unchanged(exp, plan, out, tmp_path / "results")


def test_force_is_refused_before_it_moves_anything(half_done, tmp_path, monkeypatch):
    """The results a rerun continues from were made with another plan: --force (which would
    move OUT aside) cannot help, and is refused before OUT moves."""
    monkeypatch.chdir(tmp_path)
    old = json.loads((half_done / RECORD).read_text())
    results = tmp_path / "results" / "half"
    (results / carry.STATE / "steps").mkdir(parents=True)
    shutil.copy(half_done / "steps" / "train-pbt-seed-0.json", results / carry.STATE / "steps")
    (results / "summary.json").write_text(json.dumps({**old, "experiment": old.pop("name")}))
    (tmp_path / "exp.toml").write_text(FILE.replace("generations = 4", "generations = 5"))
    result = invoke("experiment", "run", tmp_path / "exp.toml", "-o", half_done, "--force")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert "results/half was made with another plan (arm pbt: generations 4 -> 5)" in result.output
    assert "another --results (or move it aside yourself" in result.output and "--force" not in result.output
    assert half_done.is_dir() and not list(tmp_path.glob("out.old-*"))


def test_what_touches_no_finished_step_is_no_change(half_done, tmp_path):
    out = half_done
    for text in (FILE.replace("seeds = [0, 1]", "seeds = [0, 1, 2]"),  # a seed added
                 FILE + 'note = "the designer\'s term, fixed"\n',  # the ppo arm's words
                 FILE + "\n[arms.more]\nshaping = { reward = 1.0 }\n",  # an arm added
                 FILE.replace("seeds = [0, 1]", 'seeds = [0, 1]\ntuned_on = ["tuning.toml"]')):  # named
        (tmp_path / "tuning.toml").write_text(FILE.replace("seeds = [0, 1]", "seeds = [5, 6]"))
        exp, plan = replan(tmp_path, out, text)
        unchanged(exp, plan, out, tmp_path / "results")
    for marker in (out / "steps").glob("*ppo*.json"):  # ppo: nothing finished any more
        marker.unlink()
    exp, plan = replan(tmp_path, out, FILE.replace("last_apples = -3.0", "last_apples = -2.0"))
    unchanged(exp, plan, out, tmp_path / "results")


def test_the_results_a_fresh_checkout_continues_from_are_checked_too(half_done, tmp_path):
    """results/NAME/summary.json names the plan its state/ was made with (a report's keys)."""
    old = json.loads((half_done / RECORD).read_text())
    results = tmp_path / "results"
    (results / carry.STATE / "steps").mkdir(parents=True)
    shutil.copy(half_done / "steps" / "train-pbt-seed-0.json", results / carry.STATE / "steps")
    summary = {**{k: v for k, v in old.items() if k not in ("name", "reference", "steps")},
               "experiment": old["name"], "reference_policy": old["reference"]}
    (results / "summary.json").write_text(json.dumps(summary))
    fresh = tmp_path / "fresh"
    exp, plan = replan(tmp_path, fresh)
    unchanged(exp, plan, fresh, results)  # the same plan: continued
    said = refusal(tmp_path, fresh, FILE.replace("generations = 4", "generations = 8"), results)
    assert f"{results} was made with another plan (arm pbt: generations 4 -> 8)" in said
    assert "move it aside yourself" in said


def test_the_cli_refuses_in_one_line_and_keeps_what_is_recorded(half_done, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = {p: p.read_bytes() for p in half_done.rglob("*") if p.is_file()}
    (tmp_path / "exp.toml").write_text(FILE.replace("episodes = 10", "episodes = 20"))
    result = invoke("experiment", "run", tmp_path / "exp.toml", "-o", half_done)
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "episodes 10 -> 20" in result.output
    assert {p: p.read_bytes() for p in half_done.rglob("*") if p.is_file()} == before
    dry = invoke("experiment", "run", tmp_path / "exp.toml", "-o", half_done, "--dry-run")
    assert dry.exit_code == 2 and "episodes 10 -> 20" in dry.output, dry.output  # said before, too
    # another experiment into this one's folder: its name differs, and so would its steps
    (tmp_path / "exp.toml").write_text(FILE.replace('name = "half"', 'name = "other"'))
    result = invoke("experiment", "run", tmp_path / "exp.toml", "-o", half_done)
    assert result.exit_code == 2 and "it holds experiment 'half'" in result.output, result.output
    assert {p: p.read_bytes() for p in half_done.rglob("*") if p.is_file()} == before


def test_an_experiment_folder_is_its_own_kind(half_done):
    assert claim(half_done, "experiment") == half_done  # continued by running it again
    with pytest.raises(BadInput, match=r"already holds an experiment \('half'\)"):
        claim(half_done, "study")
    shown = invoke("status", half_done)
    assert shown.exit_code == 0, shown.output
    assert shown.output == invoke("experiment", "status", half_done).output
    as_json = json.loads(invoke("status", half_done, "--json").output)
    assert (as_json["kind"], as_json["done"], as_json["left"]) == ("experiment", 5, 8)
    checked = invoke("status", half_done, "--check")  # the run folders its plan names, audited
    assert checked.exit_code == 1 and checked.output.startswith("runs/pbt/seed-1: "), checked.output
    assert "not a PBT state" in checked.output  # the fixture's state.json is a made-up one
    shutil.rmtree(half_done / "runs")
    checked = invoke("status", half_done, "--check")
    assert checked.exit_code == 0, checked.output
    assert checked.output.strip() == f"{half_done}: consistent (experiment 'half', 5 of 13 steps done, 0 run and evaluation folders)"
    (half_done / "steps" / "train-pbt-seed-0.json").write_text("{not json")
    checked = invoke("status", half_done, "--check")
    assert checked.exit_code == 1 and "train-pbt-seed-0.json" in checked.output, checked.output


def test_changes_lists_settings_and_arms_from_a_record_or_a_summary():
    old = {"experiment": "x", "episodes": 30, "reference_policy": "scripted:sustainable",
           "arms": {"a": {"kind": "pbt", "definition": {"generations": 8, "note": "old words"},
                          "generations": 8},
                    "gone": {"kind": "train"}}}
    new = {"name": "x", "episodes": 30, "reference": "scripted:sustainable",
           "arms": {"a": {"kind": "pbt", "definition": {"generations": 8, "note": "new words"},
                          "generations": 8, "file_sha256": "abc"},
                    "b": {"kind": "train"}}}
    assert changes(old, new) == ({}, {})  # a note, an arm added or dropped, a field only one has
    new["episodes"], new["arms"]["a"]["definition"]["generations"] = 50, 10
    assert changes(old, new) == ({"episodes": "episodes 30 -> 50"}, {"a": ["generations 8 -> 10"]})
    # the experiment's budget is every arm's: said once, as the setting
    old["agent_steps"], old["arms"]["a"]["agent_steps"] = 100, 100
    new["agent_steps"], new["arms"]["a"]["agent_steps"] = 200, 200
    assert changes(old, new)[1] == {"a": ["generations 8 -> 10"]}


def test_a_league_arm_covers_the_population_files_its_league_names(tmp_path):
    """A league arm's file_sha256 changes with its league file and with each population file
    the league names (its definition holds neither)."""
    leagues = tmp_path / "leagues"
    leagues.mkdir()
    shutil.copy(POPS / "leagues" / "commons.toml", leagues / "commons.toml")
    for name in ("open", "no_zap", "farmer"):  # found beside the league's folder
        shutil.copy(POPS / f"{name}.toml", tmp_path / f"{name}.toml")
    (leagues / "exp.toml").write_text(
        '[experiment]\nname = "lg"\nseeds = [0, 1, 2, 3, 4]\nagent_steps = 100_000\nepisodes = 30\n'
        '[arms.league]\nleague = "commons.toml"\ngenerations = 2\nnote = "n"\n')

    def digest():
        exp = spec.load(leagues / "exp.toml")
        return record(exp, [], tmp_path / "out")["arms"]["league"]["file_sha256"]

    first = digest()
    assert digest() == first
    farmer = tmp_path / "farmer.toml"
    farmer.write_text(farmer.read_text() + "\n# edited\n")
    assert digest() != first


COMMITTED = sorted(p.parent for p in (ROOT / "results").glob("*/summary.json")
                   if json.loads(p.read_text()).get("file"))


@pytest.mark.parametrize("results", COMMITTED, ids=lambda p: p.name)
def test_the_committed_results_were_made_with_the_plan_their_files_make_now(results, tmp_path, monkeypatch):
    """A shipped experiment, population or suite file edited under its committed results would
    make a rerun in a fresh checkout refuse them (or, worse, a report mix two plans): each
    committed experiment's plan today is the one its results/NAME/summary.json records, where
    its kept steps ran."""
    monkeypatch.chdir(ROOT)  # the record's paths are relative to the repository's root
    summary = json.loads((results / "summary.json").read_text())
    exp = spec.load(ROOT / summary["file"])
    plan = record(exp, steps.plan(exp, tmp_path / "out", "sqlite:///m.db", "cpu"), tmp_path / "out")
    kept = [r for r in plan["steps"] if (results / carry.STATE / r["marker"]).is_file()]
    assert kept, "no kept step of today's plan: the check below would check nothing"
    unchanged(exp, plan, tmp_path / "out", results)
