"""`[pbt] inherit = "genes"`: a losing member takes the donor's genes and keeps its own weights,
recorded as an `adopt` event that every lineage reader counts as a copy of genes, not of
weights."""

import numpy as np
import pytest

from popbased.errors import BadInput
from popbased.experiment import repeatability
from popbased.population import family, family_plot, pb2
from popbased.population.lineage import LineageEvent, LineageLog, replay
from popbased.population.pbt import replace, step
from popbased.population.report import event_line

from conftest import equal_states, make_members, member_state, tiny_spec, tracker_with

SAMPLES = {"m0": [0.0] * 9, "m1": [20, 35, 28, 30, 25, 31, 27, 33, 29],
           "m2": [40, 52, 45, 49, 38, 47, 51, 44, 46]}


def test_genes_only_the_loser_takes_the_donors_genes_and_keeps_its_weights():
    spec = tiny_spec(inherit="genes", mutation_stdev=0.0, resample_probability=0.0)
    members = make_members(spec)
    members["m2"].apply({**members["m2"].values, "shaping.others_reward": 0.7})
    members["m2"].learner.agent_steps += 5000
    own, uid, steps = member_state(members["m0"]), members["m0"].learner.uid, members["m0"].learner.agent_steps
    donor_values = dict(members["m2"].values)
    assert members["m0"].values != donor_values
    events = step(spec, members, tracker_with(SAMPLES), list(members), np.random.default_rng(7))
    assert [(e.member, e.kind) for e in events] == [("m0", "adopt"), ("m0", "explore"), ("m1", "keep"),
                                                    ("m2", "keep")]
    adopt = events[0]
    assert adopt.donor == "m2" and adopt.fitness < adopt.donor_fitness
    assert "its genes only" in events[1].reason
    m0 = members["m0"]
    assert m0.values == pytest.approx(donor_values, rel=1e-6)  # no mutation asked (EvoTorch's float32)
    assert m0.learner.config.lr == m0.values["lr"]  # applied to the learner: PPO settings
    assert m0.learner.shaping["others_reward"] == pytest.approx(0.7, rel=1e-6)  # and shaping
    weights, adam = member_state(m0)
    assert adam["param_groups"][0]["lr"] == m0.values["lr"]  # the new lr, in its own Adam
    assert equal_states((weights, adam), (own[0], {**own[1], "param_groups": adam["param_groups"]}))
    assert not equal_states(member_state(m0), member_state(members["m2"]))
    assert m0.learner.uid == uid and m0.learner.agent_steps == steps
    assert m0.parent is None and m0.donors == [] and m0.birth_generation == 0  # its line of weights goes on
    assert "m2's genes, its own weights" in event_line(adopt)


def test_weights_is_the_default_and_a_replace_may_ask_for_weights_whatever_the_config():
    assert tiny_spec().pbt.inherit == "weights"
    spec = tiny_spec(inherit="genes")
    members = make_members(spec)
    donor = member_state(members["m2"])
    assert not equal_states(member_state(members["m0"]), donor)
    fitness = {"m0": 0.0, "m1": 1.0, "m2": 2.0}
    events = replace(spec, members, members["m0"], members["m2"], fitness, np.random.default_rng(0),
                     "quarantined", inherit="weights")  # as a league's sick member does
    assert events[0].kind == "exploit" and members["m0"].parent == "m2"
    weights, adam = member_state(members["m0"])  # the donor's weights and Adam state (lr explored)
    assert equal_states((weights, adam), (donor[0], {**donor[1], "param_groups": adam["param_groups"]}))


def test_inherit_is_validated_in_population_files():
    with pytest.raises(BadInput, match=r"inherit='both'; allowed: weights, genes"):
        tiny_spec(inherit="both")
    # experiment arms: tests/experiment/test_experiment_spec.py


def _events():
    """Two members; after generation 1 m0 adopts m1's genes (its own fitness 1.0, m1's 3.0),
    m1 keeps; after generation 2 both keep."""
    return [LineageEvent("m0", 0, 0, "init", {"lr": 0.1}), LineageEvent("m1", 0, 0, "init", {"lr": 0.5}),
            LineageEvent("m0", 1, 100, "adopt", {"lr": 0.5}, {"lr": [0.1, 0.5, "copied"]}, donor="m1",
                         fitness=1.0, donor_fitness=3.0),
            LineageEvent("m0", 1, 100, "explore", {"lr": 0.6}, {"lr": [0.5, 0.6, "mutated"]}),
            LineageEvent("m1", 1, 100, "keep", {"lr": 0.5}, fitness=3.0),
            LineageEvent("m0", 2, 200, "keep", {"lr": 0.6}, fitness=2.0),
            LineageEvent("m1", 2, 200, "keep", {"lr": 0.5}, fitness=3.5)]


def test_lineage_readers_follow_an_adopt_as_genes_taken_and_weights_kept(tmp_path):
    events = _events()
    log = LineageLog(tmp_path / "lineage.jsonl")
    for e in events:
        log.append(e)
    assert replay(log.events, "m0") == {"lr": 0.6}
    assert log.ancestry("m0") == []  # no weights copied
    assert [g for g, _ in log.descent("m0")] == [1, 2] and log.descent("m0")[-1][1] == {"lr": 0.6}
    assert log.adoptions("m0") == [(1, "m1")] and log.adoptions("m1") == []
    roots, current = family.build(events)
    assert current["m0"] is roots[0] and current["m0"].fitness == 2.0  # one line of weights
    _, current = family.build(events[:4])
    assert current["m0"].fitness == 1.0  # the adopt's fitness is its own line's
    _, _, edges = family_plot.points(events)
    assert ("m0", 1, "m0", 2, False) in edges and not any(copy for *_, copy in edges)
    # PB2: m0's second interval starts from its own fitness (1.0), not the donor's
    gene = tiny_spec().all_genes()
    lr = [g for g in gene if g.name == "lr"]
    X, y = pb2.intervals(events, lr)
    assert X[:, 1].tolist() == [1.0, 3.0] and y.tolist() == [(2.0 - 1.0) / 100, (3.5 - 3.0) / 100]


def test_repeatability_counts_an_adopt_as_a_copy_and_not_as_a_kept_pair(tmp_path):
    """Generation 1: m0 lowest (left out), m1 adopts m2's genes (as a tournament's loser may),
    m2 and m3 keep; generation 2 everyone keeps. Only (m2, m3) is a pair, and it held; counted as
    kept, m1 would add two pairs that flipped."""
    def event(m, g, kind, fitness, donor=None):
        return LineageEvent(m, g, 100 * g, kind, {"lr": 0.1}, donor=donor, fitness=fitness)

    events = [event(m, 0, "init", None) for m in ("m0", "m1", "m2", "m3")]
    events += [event("m0", 1, "keep", 1.0), event("m1", 1, "adopt", 2.0, "m2"),
               event("m1", 1, "explore", None), event("m2", 1, "keep", 3.0), event("m3", 1, "keep", 4.0)]
    events += [event("m0", 2, "keep", 0.5), event("m1", 2, "keep", 5.0), event("m2", 2, "keep", 3.5),
               event("m3", 2, "keep", 4.5)]
    path = tmp_path / "lineage.jsonl"
    log = LineageLog(path)
    for e in events:
        log.append(e)
    counted = repeatability.run(path)
    assert (counted["copies"], counted["steps"]) == (1, 8)
    assert (counted["pairs"], counted["same_order"]) == (1, 1)
