"""PBT's world seating ([pbt] seating = "world"): each world's seats are one member's, the
members get equal shares of the worlds, and a world keeps its member until its episode ends;
a population trains with it from the CLI; a league refuses it in one line."""

import json

import numpy as np
import pytest

from popbased.errors import BadInput
from popbased.population.spec import load
from popbased.run.session import SelfPlaySeats, seating

from conftest import POPS, league_text, popbased, write_league


def test_whole_worlds_in_equal_shares():
    rng = np.random.default_rng(0)
    out = seating(rng, ["a", "b", "c", "d"], 2, 7 * 10, players=7)
    assert [len(s) for s in out] == [70, 70]
    worlds = [tuple(s[e * 7:(e + 1) * 7]) for s in out for e in range(10)]
    assert all(len(set(w)) == 1 for w in worlds)
    counts = {m: sum(w[0] == m for w in worlds) for m in "abcd"}
    assert sorted(counts.values()) == [5, 5, 5, 5]

    class Collector:
        shards, seats_per_worker, players = 1, 28, 7

    from types import SimpleNamespace

    learners = {"a": SimpleNamespace(uid="ua"), "b": SimpleNamespace(uid="ub")}
    seats, matches = SelfPlaySeats(per_world=True).plan(rng, Collector, learners)
    # each world's match: its member and the learner uid it begins its episode with
    assert matches == [[(seats[0][e * 7], learners[seats[0][e * 7]].uid) for e in range(4)]]
    assert SelfPlaySeats().plan(rng, Collector, learners)[1] is None
    # the worlds are dealt once: a later plan keeps every world's member, with its current uid
    plan = SelfPlaySeats(per_world=True)
    first, _ = plan.plan(rng, Collector, learners)
    learners["a"].uid = "ua2"  # PBT copied a donor into a
    again, matches = plan.plan(rng, Collector, learners)
    assert again == first
    assert matches == [[(first[0][e * 7], learners[first[0][e * 7]].uid) for e in range(4)]]
    assert ("a", "ua2") in matches[0]
    five = {m: SimpleNamespace(uid=m) for m in "abcde"}  # 5 members, 4 worlds: some never play
    with pytest.raises(BadInput, match="needs at least one world per member: 5 members, 4 worlds"):
        SelfPlaySeats(per_world=True).plan(rng, Collector, five)


def test_a_population_trains_with_world_seating_and_a_league_refuses_it(tmp_path):
    text = (POPS / "open.toml").read_text().replace("size = 4", "size = 2")
    path = tmp_path / "world.toml"
    path.write_text(text.replace('name = "open"', 'name = "world"') +
                    '\n[pbt]\nseating = "world"\nsamples = "episode"\nfitness = "welfare"\nconfidence = 0.0\n'
                    if "[pbt]" not in text else text)
    spec = load(path)
    assert (spec.pbt.seating, spec.pbt.samples) == ("world", "episode")
    # 130-step episodes end inside the 50-step fragments, as Melting Pot's own do (1,000 +
    # 100k steps less one): a member PBT copied into still plays whole episodes of its own
    done = popbased(tmp_path, "pbt", path, "--generations", 2, "--steps-per-generation", 2800, "--workers", 1,
                    "--envs-per-worker", 4, "--max-episode-steps", 130, "--out", "run",
                    "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}")
    assert done.returncode == 0, done.stderr[-3000:]
    rounds = [json.loads(line) for line in (tmp_path / "run" / "rounds.jsonl").read_text().splitlines()]
    assert rounds[-1]["episodes"] > 0
    # every member's fitness is the mean of its episodes' welfare, and the bottom member's
    # decision comes from the per-sample test (fitness.better), not from comparing products
    steps = [json.loads(line) for line in (tmp_path / "run" / "lineage.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] in ("keep", "exploit")]
    assert len(steps) == 4 and all(e["fitness"] is not None for e in steps), steps
    bottom, later = [e for e in steps if e["reason"].startswith("bottom group")]
    assert "gap" in bottom["reason"] and "welfare" not in bottom["reason"], bottom["reason"]
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    for member in state["members"]:
        assert member["fitness"] == pytest.approx(member["objectives"]["welfare"])
    bad = path.read_text().replace('seating = "world"', 'seating = "solo"')
    path.write_text(bad)
    with pytest.raises(BadInput, match="seating='solo'; allowed: mixed, world"):
        load(path)
    path.write_text(bad.replace('seating = "solo"', 'seating = "world"'))
    league = write_league(tmp_path, league_text(populations=()).replace("populations = []", f'populations = ["{path}", "{POPS / "no_zap.toml"}"]'))
    with pytest.raises(BadInput, match="a league seats its members by its matches"):
        from popbased.league.spec import load as load_league

        load_league(league)
