"""Per-member statistics for tracking (popbased.population.member_stats): learners and seats
averaged."""


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
