"""The payoff table (popbased.league.payoff): intervals, league scores, member samples."""

import math

from popbased.league.match import Match
from popbased.league.payoff import PayoffTable, normalised


def test_payoff_table_intervals_scores_and_member_samples():
    table = PayoffTable(1)

    def episode(focal, background, mode, returns, members, seats):
        return {"returns": returns, "gini": 0.1, "depleted": False, "members": members,
                "match": Match(mode, focal, background, tuple(seats), "train", 1)}

    eps = [episode("a", "self", "self_play", [4, 6], ["a/m0", "a/m1"], [0, 1]),
           episode("a", "self", "self_play", [8, 10], ["a/m0", "a/m1"], [0, 1]),
           episode("b", "self", "self_play", [1, 1], ["b/m0", "b/m0"], [0, 1]),
           episode("b", "random", "visitor", [3, 0], ["b/m1", "random"], [0])]
    assert table.add(eps) == 4
    rows = {(r["focal"], r["background"], r["mode"]): r for r in table.rows()}
    a = rows[("a", "self", "self_play")]
    assert a["episodes"] == 2 and a["return"] == 7.0 and a["ci_low"] < 7.0 < a["ci_high"]
    assert math.isnan(rows[("b", "self", "self_play")]["ci_low"])  # one episode: no interval
    assert rows[("b", "random", "visitor")]["background_return"] == 0.0
    scores = table.scores(["a", "b"])
    assert scores == {"a": 1.0, "b": 0.0}  # only self-play is shared; random visitor is b's alone
    samples = table.member_samples()
    assert samples["a/m0"] == [4 - 7.0, 8 - 7.0] and samples["b/m1"] == [0.0]
    assert samples["b/m0"] == [0.0]  # two seats in one episode: one sample
    again = PayoffTable.from_dict(table.to_dict())
    assert again.rows() == table.rows()


def test_normalised_is_min_max_over_one_scenario():
    """Melting Pot's score, for league populations and scenario policies alike."""
    assert normalised({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert normalised({"a": 1.0, "b": 1.0}) == {"a": 0.5, "b": 0.5}
    scored = normalised({"a": math.nan, "b": 1.0, "c": 3.0})
    assert math.isnan(scored["a"]) and (scored["b"], scored["c"]) == (0.0, 1.0)
