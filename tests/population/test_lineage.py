"""Lineage (popbased.population.lineage): the log replays the recorded schedule."""

from popbased.population.lineage import LineageEvent, LineageLog, replay


def test_lineage_replays_the_recorded_schedule(tmp_path):
    log = LineageLog(tmp_path / "lineage.jsonl")
    log.append(LineageEvent("m0", 0, 0, "init", {"lr": 1e-3, "zapped": 0.0}))
    log.append(LineageEvent("m1", 0, 0, "init", {"lr": 5e-4, "zapped": -0.5}))
    log.append(LineageEvent("m0", 1, 1000, "exploit", {"lr": 5e-4, "zapped": -0.5},
                            {"lr": [1e-3, 5e-4, "copy"], "zapped": [0.0, -0.5, "copy"]},
                            donor="m1", fitness=20.0, donor_fitness=40.0, reason="bottom 25%"))
    log.append(LineageEvent("m0", 1, 1000, "explore", {"lr": 6e-4, "zapped": -0.5},
                            {"lr": [5e-4, 6e-4, "gaussian"]}))
    again = LineageLog(tmp_path / "lineage.jsonl")
    assert again.events == log.events
    assert again.schedule("m0") == [(0, {"lr": 1e-3, "zapped": 0.0}),
                                    (1000, {"lr": 5e-4, "zapped": -0.5}),
                                    (1000, {"lr": 6e-4, "zapped": -0.5})]
    assert again.values_at("m0", 999) == {"lr": 1e-3, "zapped": 0.0}
    assert again.values_at("m0", 1000) == {"lr": 6e-4, "zapped": -0.5}
    assert replay(again.events, "m0") == again.of("m0")[-1].values
    assert again.ancestry("m0") == ["m1"]


def test_descent_follows_the_weights_back_through_every_copy():
    """Three PBT steps (after generations 1, 2 and 3). m0 copies m1 after generation 1 and
    mutates; m1 copies m0 after generation 2. m1's weights trained: generation 3 with what it
    got after its copy, generations 1-2 as m0's (the donor's history), and m0 had m1's
    weights from generation 1 (its own copy)."""
    log = LineageLog()
    log.append(LineageEvent("m0", 0, 0, "init", {"a": 0.0}))
    log.append(LineageEvent("m1", 0, 0, "init", {"a": 5.0}))
    log.append(LineageEvent("m0", 1, 100, "exploit", {"a": 5.0}, donor="m1"))
    log.append(LineageEvent("m0", 1, 100, "explore", {"a": 6.0}))
    log.append(LineageEvent("m1", 1, 100, "keep", {"a": 5.0}))
    log.append(LineageEvent("m0", 2, 200, "keep", {"a": 6.0}))
    log.append(LineageEvent("m1", 2, 200, "exploit", {"a": 6.0}, donor="m0"))
    log.append(LineageEvent("m1", 2, 200, "explore", {"a": 7.0}))
    log.append(LineageEvent("m0", 3, 300, "explore", {"a": 9.0}))  # never trained with
    log.append(LineageEvent("m1", 3, 300, "keep", {"a": 7.0}))
    # generation 1: m1's own weights (5.0); 2: m0 with m1's copied weights, mutated (6.0);
    # 3: m1 again, after copying m0 and mutating (7.0)
    assert log.descent("m1") == [(1, {"a": 5.0}), (2, {"a": 6.0}), (3, {"a": 7.0})]
    assert log.descent("m0") == [(1, {"a": 5.0}), (2, {"a": 6.0}), (3, {"a": 6.0})]
    assert LineageLog().descent("m0") == [] and log.descent("nobody") == []
