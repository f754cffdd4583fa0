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
