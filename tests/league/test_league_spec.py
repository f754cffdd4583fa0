"""League parts without Ray: spec validation, matchmaking, payoff table, seating in a worker."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from popbased.errors import BadInput
from popbased.league import matchmaking
from popbased.league.match import Match
from popbased.league.matchmaking import Matchmaker
from popbased.league.payoff import PayoffTable
from popbased.league.spec import load, parse

ROOT = Path(__file__).resolve().parents[1]
POPS = ROOT / "populations"


def league_text(populations=("open", "no_zap"), extra: str = "", league: str = "") -> str:
    names = ", ".join(f'"{POPS / (p + ".toml")}"' for p in populations)
    return (f'[league]\nname = "tiny"\npopulations = [{names}]\narena = "open"\nsize = 2\n'
            f'steps_per_generation = 1500\nepisode_steps = 100\n{league}\n{extra}')


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "league.toml"
    path.write_text(text)
    return path


def test_the_shipped_league_file_loads():
    spec = load(POPS / "leagues" / "commons.toml")
    assert [p.name for p in spec.populations] == ["open", "no_zap", "farmer"]
    assert all(p.size == 2 for p in spec.populations)
    assert {m.name: m.focal for m in spec.modes} == {"self_play": 7, "resident": 5, "visitor": 1}
    assert math.isclose(sum(m.share for m in spec.modes), 1.0)


@pytest.mark.parametrize("text, message", [
    (league_text(populations=("open", "nope")), "unknown population '/.*nope.toml'; known: "),
    ('[league]\nname = "x"\npopulations = []\n', "the league is empty"),
    (league_text(extra="[modes.resident]\nshare = 1\nfocal = 2\n"), "focal=2: out of range"),
    (league_text(extra="[modes.visitor]\nshare = 1\nfocal = 4\n"), "allowed 1..3 (a minority)"),
    (league_text(league="").replace('arena = "open"', 'arena = "clean_up"'),
     "cannot play a clean_up arena"),
    (league_text(extra="[matchmaking]\ntrain = \"elo\"\n"), "allowed: uniform, pfsp"),
    (league_text(extra="[background]\nsources = [\"bots\"]\n"), "bots"),
    (league_text(extra="[fitness]\nkind = \"wins\"\n"), "allowed: league, return"),
    (league_text(extra="[snapshot]\nevery = 1\n"), "did you mean 'snapshots'"),
])
def test_bad_league_files_are_one_clear_error(tmp_path, text, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(write(tmp_path, text))


def test_bad_league_file_from_the_cli_is_one_line_exit_2_and_writes_nothing(tmp_path):
    path = write(tmp_path, league_text(populations=("open", "nope")))
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "popbased.cli", "league", "launch", str(path),
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "unknown population" in done.stderr
    assert not out.exists()


def spec_for(tmp_path, **kw):
    return load(write(tmp_path, league_text(**kw)))


def test_pfsp_prefers_the_background_the_focal_does_worst_against():
    w = matchmaking.weights("pfsp", {"a": 10.0, "b": 30.0, "c": 20.0}, ["a", "b", "c", "d"], 2.0)
    assert w[0] == w[3] > w[2] > w[1] > 0  # worst (a) and never met (d) first; the best still some
    u = matchmaking.weights("uniform", {"a": 10.0}, ["a", "b"], 2.0)
    assert list(u) == [0.5, 0.5]


def test_matches_seat_the_right_players(tmp_path):
    spec = spec_for(tmp_path)
    mm = Matchmaker(spec, {"open": ["open/m0", "open/m1"], "no_zap": ["no_zap/m0", "no_zap/m1"]}, 7)
    mm.snapshots = {"open@g1": "open@g1"}
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        match = mm.match(rng, "uniform", "train", 1)
        seats = mm.seats(rng, match)
        mode = spec.mode(match.mode)
        assert len(match.focal_seats) == mode.focal
        focal_pop = match.focal
        assert all(seats[s].startswith(focal_pop + "/") for s in match.focal_seats)
        others = [seats[s] for s in range(7) if s not in match.focal_seats]
        background = match.background
        if background in ("open", "no_zap"):
            assert background != focal_pop and all(o.startswith(background + "/") for o in others)
        elif background == "random":
            assert set(others) == {"random"}
        elif background == "open@g1":
            assert set(others) == {"open@g1"}
        else:
            assert background == "self" and not others
        seen.add((match.mode, background))
    assert {b for _, b in seen} == {"self", "open", "no_zap", "random", "open@g1"}


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


def _publication(pop_file, member):
    from popbased.league.arena import action_names
    from popbased.population.spec import load as load_population
    from popbased.ppo.learner import Learner

    learner = Learner(member, 11, action_names(load_population(pop_file)), seed=1)
    return learner.publication()


def test_no_zap_members_never_zap_in_an_open_arena_and_seats_change_only_between_episodes():
    """Asymmetric seating: no_zap members play an open arena with FIRE_ZAP masked, beside
    open members who can zap. A worker told to reseat every fragment keeps each env's match
    until its episode ends."""
    from popbased.rollout.worker import RolloutWorker
    from popbased.substrates import resolve

    arena = resolve("open", {})
    worker = RolloutWorker(arena, 2, seed=3, max_episode_steps=100, backend="inline")
    pubs = {"open/m0": _publication(POPS / "open.toml", "open/m0"),
            "no_zap/m0": _publication(POPS / "no_zap.toml", "no_zap/m0"),
            "open@g1": {**_publication(POPS / "open.toml", "open@g1"), "frozen": True}}
    assert "FIRE_ZAP" not in pubs["no_zap/m0"]["action_names"]
    rng = np.random.default_rng(0)
    episodes = []
    for fragment in range(6):  # 6 x 50 steps = 3 episodes per env
        seats, matches = [], []
        for env in range(2):
            mine = sorted(rng.choice(7, size=3, replace=False).tolist())
            labels = ["no_zap/m0" if s in mine else str(rng.choice(["open/m0", "random", "open@g1"]))
                      for s in range(7)]
            seats += labels
            matches.append({"fragment": fragment, "env": env, "labels": labels})
        result = worker.collect(pubs, seats, 50, matches=matches)
        # a frozen snapshot plays but is never trained: no batch for it
        assert {b.member for b in result["batches"]} <= {"open/m0", "no_zap/m0"}
        episodes += result["episodes"]
    worker.close()
    assert len(episodes) == 6
    zaps_by_no_zap = zaps_by_others = 0
    for e in episodes:
        match = e["match"]
        assert match["fragment"] % 2 == 0  # seated at the episode's first fragment, kept after
        assert e["members"] == match["labels"]
        for seat, member in enumerate(e["members"]):
            if member == "no_zap/m0":
                zaps_by_no_zap += e["zaps_fired"][seat]
            else:
                zaps_by_others += e["zaps_fired"][seat]
    assert zaps_by_no_zap == 0
    assert zaps_by_others > 0  # the open, snapshot and random seats beside them do zap
    assert {"open@g1", "random"} <= {m for e in episodes for m in e["members"]}


def test_pfsp_weights_are_a_distribution():
    w = matchmaking.weights("pfsp", {}, ["x"], 2.0)
    assert list(w) == [1.0]
    # the focal does worst against a, best against b; d was never met (weighs as the hardest)
    w = matchmaking.weights("pfsp", {"a": 1.0, "b": 5.0, "c": 3.0}, ["a", "b", "c", "d"], 2.0)
    raw = [1.0 + 0.1, 0.0 + 0.1, 0.5 ** 2 + 0.1, 1.0 + 0.1]
    assert w == pytest.approx([r / sum(raw) for r in raw]) and w.sum() == pytest.approx(1.0)
    assert list(matchmaking.weights("uniform", {"a": 1.0}, ["a", "b", "c", "d"], 2.0)) == [0.25] * 4
    spec = parse({"league": {"populations": [str(POPS / "open.toml")], "size": 2}}, "t", POPS)
    assert matchmaking.sources(spec, "open", []) == ["random"]


def test_async_pbt_in_a_league_is_refused_with_one_line(tmp_path):
    text = (POPS / "open.toml").read_text()
    assert "[pbt]" not in text
    pop = tmp_path / "open.toml"
    pop.write_text(text + '\n[pbt]\nmode = "async"\n')
    with pytest.raises(BadInput, match='has \\[pbt\\] mode = "async", which a league does not run'):
        parse({"league": {"populations": [str(pop), str(POPS / "no_zap.toml")]}}, "t", POPS)


def test_a_snapshot_keeps_its_weights_when_its_member_goes_on_training():
    import torch

    from popbased.ppo.learner import Learner, publication

    learner = Learner("open/m0", 11, ["NOOP", "FORWARD"], seed=0)
    frozen = publication(learner.policy, "open@g1", ("snapshot:open@g1", 0), frozen=True)
    before = {k: v.copy() for k, v in frozen["weights"].items()}
    with torch.no_grad():
        for p in learner.policy.parameters():
            p.add_(1.0)  # in place, as Adam and PBT's copy do
    assert all(np.array_equal(frozen["weights"][k], before[k]) for k in before)
