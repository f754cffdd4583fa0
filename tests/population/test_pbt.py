"""The PBT step (popbased.population.pbt): exploit then explore, seeded, recorded as lineage."""

import numpy as np

from popbased.population.lineage import LineageEvent, LineageLog, replay
from popbased.population.pbt import step

from conftest import equal_states, make_members, member_state, tiny_spec, tracker_with


def test_pbt_step_replaces_the_clearly_worse_member_and_is_seeded():
    spec = tiny_spec(crossover=True)
    samples = {"m0": [0.0] * 9, "m1": [20, 35, 28, 30, 25, 31, 27, 33, 29],
               "m2": [40, 52, 45, 49, 38, 47, 51, 44, 46]}
    runs = []
    for _ in range(2):
        members = make_members(spec)
        donor_state = member_state(members["m2"])
        events = step(spec, members, tracker_with(samples), list(members), np.random.default_rng(7))
        runs.append((members, events))
        kinds = [(e.member, e.kind) for e in events]
        assert kinds == [("m0", "exploit"), ("m0", "explore"), ("m1", "keep"), ("m2", "keep")]
        assert events[0].donor == "m2" and "p=" in events[0].reason
        assert equal_states(member_state(members["m0"])[:1] + (donor_state[1],), donor_state)
        for gene in spec.all_genes():
            if gene.bounds:
                assert gene.bounds[0] <= members["m0"].values[gene.name] <= gene.bounds[1]
        assert members["m0"].learner.config.lr == members["m0"].values["lr"]
    (a, ea), (b, eb) = runs
    assert [vars(e) for e in ea] == [vars(e) for e in eb]  # same seed, same decisions and values
    assert a["m0"].values == b["m0"].values


def test_lineage_replay_gives_the_values_trained_with(tmp_path):
    spec = tiny_spec()
    members = make_members(spec)
    log = LineageLog(tmp_path / "lineage.jsonl")
    for m, member in members.items():
        log.append(LineageEvent(m, 0, 0, "init", dict(member.values)))
    rng = np.random.default_rng(3)
    samples = {"m0": [0.0] * 9, "m1": [20.0 + i for i in range(9)], "m2": [40.0 + i for i in range(9)]}
    for _ in range(3):
        for event in step(spec, members, tracker_with(samples), list(members), rng):
            log.append(event)
    reread = LineageLog(tmp_path / "lineage.jsonl")
    for m, member in members.items():
        assert replay(reread.events, m) == member.values
    assert reread.ancestry("m0") == ["m2", "m2", "m2"]
