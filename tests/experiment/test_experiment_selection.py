"""`popbased experiment selection`: each champion's training fitness beside its Melting Pot
scores, Spearman's rho across runs, and within runs the repeatability of the fitness order
from a kept lineage; checked on hand-made folders (perfect orders give +-1, a hand-counted
lineage), bad input in one line, and the committed analyses recomputed from the committed
results."""

import json

import pytest

from conftest import ROOT, invoke
from popbased.errors import BadInput
from popbased.experiment import selection
from popbased.experiment.repeatability import repeatability


def _folder(tmp_path, fitness, normalised, sustainability, world, where="state/champions"):
    runs = {}
    for seed, (f, n, s, w) in enumerate(zip(fitness, normalised, sustainability, world)):
        runs[str(seed)] = {"score": 10 * n, "normalised": n, "depletion": {"world": w}}
        policy = tmp_path / where / "pbt" / f"seed-{seed}" / "open" / "policy.json"
        policy.parent.mkdir(parents=True)
        policy.write_text(json.dumps({"member": f"m{seed}", "fitness": f, "objectives": {
            "return": f, "sustainability": s, "equality": 0.5}}))
    (tmp_path / "summary.json").write_text(json.dumps({"arms": {"pbt": {"runs": runs}, "other": {"runs": {}}}}))
    return tmp_path


def test_rank_correlations_across_runs(tmp_path):
    folder = _folder(tmp_path, [1, 2, 3, 4], [0.1, 0.2, 0.3, 0.5], [0.9, 0.5, 0.7, 0.1], [0.0, 0.4, 0.2, 0.8])
    made = selection.selection(folder)
    assert [r["seed"] for r in made["rows"]] == [0, 1, 2, 3]
    assert made["rows"][1]["kept_world"] == pytest.approx(0.6)
    every = made["all"]
    assert every["fitness vs normalised"]["rho"] == pytest.approx(1.0)
    assert every["sustainability vs kept_world"]["rho"] == pytest.approx(1.0)  # kept = 1 - world
    assert every["equality vs score"] == {"rho": None, "p": None, "runs": 4, "constant": True}
    assert made["arms"]["pbt"] == every
    # reversed scores: -1
    (tmp_path / "summary.json").write_text((tmp_path / "summary.json").read_text().replace(
        '"normalised": 0.1', '"normalised": 0.9'))
    assert selection.selection(folder)["all"]["fitness vs normalised"]["rho"] < 0.5


def test_run_folders_and_too_few_runs(tmp_path):
    folder = _folder(tmp_path, [1, 2], [0.1, 0.2], [1, 1], [0, 0], where="champions")
    assert selection.selection(folder)["all"]["fitness vs normalised"] is None  # under 3 runs


def test_bad_folders_are_one_line(tmp_path):
    with pytest.raises(BadInput, match="no summary.json"):
        selection.selection(tmp_path)
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(BadInput, match="no champions/ or state/champions/"):
        selection.selection(tmp_path)
    (tmp_path / "state" / "champions").mkdir(parents=True)
    result = invoke("experiment", "selection", str(tmp_path))
    assert result.exit_code == 2 and "no run has both" in result.output


@pytest.mark.parametrize("name", ["social-attribution", "pbt-world-seating", "social-fitness-tuning",
                                  "social-episode-samples-tuning",
                                  "social-fitness-report", "study-open", "social-ready-interval-tuning",
                                  "league-vs-populations", "social-pb2-tuning", "social-inherit-tuning",
                                  "social-budget"])
def test_the_committed_analyses_are_what_the_committed_results_give(name, tmp_path):
    folder = ROOT / "results" / name
    committed = json.loads((folder / "selection.json").read_text())
    assert committed == json.loads(json.dumps(selection.selection(folder)))
    out = tmp_path / "s.json"
    shown = invoke("experiment", "selection", str(folder), "-o", str(out))
    assert shown.exit_code == 0 and "fitness vs normalised rho" in shown.output and out.is_file()
    again = invoke("experiment", "selection", str(folder), "-o", str(out))
    assert again.exit_code == 2 and "never overwritten" in again.output


def _event(member, generation, kind, fitness=None):
    return json.dumps({"member": member, "generation": generation, "agent_step": 0, "kind": kind,
                       "values": {}, "fitness": fitness})


def test_repeatability_counts_pairs_that_kept_their_weights(tmp_path):
    """Generation 1: m0 < m1 < m2, and m0 copies a donor; 1 -> 2: (m1, m2) flipped (m1 < m2,
    then m1 > m2). 2 -> 3, everyone kept, m0 the lowest at 2 and left out (as truncation's
    bottom is in every arm): (m1, m2) held. 2 pairs, 1 held; 1 copy in 9 member steps (keep
    or exploit). A league's populations pair only within themselves."""
    lines = [_event(m, 0, "init") for m in ("m0", "m1", "m2")]
    lines += [_event("m0", 1, "exploit", 1.0), _event("m0", 1, "explore"), _event("m1", 1, "keep", 2.0),
              _event("m2", 1, "keep", 3.0)]
    lines += [_event("m0", 2, "keep", 1.0), _event("m1", 2, "keep", 5.0), _event("m2", 2, "keep", 4.0)]
    lines += [_event("m0", 3, "keep", 4.5), _event("m1", 3, "keep", 6.0), _event("m2", 3, "keep", 4.0)]
    path = tmp_path / "state" / "lineage" / "pbt" / "seed-0.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    (tmp_path / "state" / "lineage" / "rs").mkdir()  # an arm without runs: left out
    made = repeatability(tmp_path)
    none = {"pairs": 0, "last": None, "mean_of_two": None}  # the one pair kept twice ties (5+2 = 4+3)
    assert made == {"pbt": {"runs": 1, "pairs": 2, "same_order": 0.5, "copies": 1, "steps": 9,
                            "two_generations": none}}
    league = [_event(f"{p}/m{i}", g, "keep", f) for g in (1, 2) for p, f0 in (("a", 0.0), ("b", 100.0))
              for i, f in enumerate((f0 + i * (1 if g == 1 else -1) for i in range(3)))]
    path.write_text("\n".join(league) + "\n")  # a's and b's orders flip; a vs b never compared
    assert repeatability(tmp_path)["pbt"] == {"runs": 1, "pairs": 2, "same_order": 0.0, "copies": 0, "steps": 12,
                                              "two_generations": none}
    assert repeatability(tmp_path / "state" / "lineage" / "pbt") == {}  # no lineage folder: none


def test_repeatability_compares_the_last_generation_with_the_mean_of_two(tmp_path):
    """Everyone kept (random search). m0 is the lowest every time and left out; (m1, m2):
    generation 1: 1 < 5, 2: 4 > 3, 3: 2 < 6, 4: 1 < 2. Window at 2 (1 and 2 -> 3): last says
    m1 > m2 (4 > 3), the mean of two m1 < m2 (5 < 8), and at 3 m1 < m2: last wrong, mean right.
    Window at 3 (2 and 3 -> 4): last m1 < m2, mean m1 < m2 (6 < 9), at 4 m1 < m2: both right."""
    fitness = {1: (0, 1, 5), 2: (0, 4, 3), 3: (0, 2, 6), 4: (0, 1, 2)}
    lines = [_event(f"m{i}", g, "keep", float(f)) for g, row in fitness.items() for i, f in enumerate(row)]
    path = tmp_path / "state" / "lineage" / "rs" / "seed-0.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    made = repeatability(tmp_path)["rs"]
    assert (made["pairs"], made["same_order"]) == (3, pytest.approx(1 / 3))  # 1->2 flips, 2->3 flips, 3->4 holds
    assert made["two_generations"] == {"pairs": 2, "last": 0.5, "mean_of_two": 1.0}
