"""population:RUN_FOLDER and population:LEAGUE_FOLDER/POP (popbased.evaluation.policies): the seat
rule, resolving on tiny real run folders (a PBT run and a league of generation 0, written by
the real loops with no training), what evaluate plays per seat, and bad references."""

import json
from pathlib import Path

import pytest

from conftest import one_line_error, popbased, tiny_league, tiny_spec


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """WORK/pbt (a PBT run of 3 members) and WORK/league (open and no_zap, 2 members each),
    written by popbased's own loops at generation 0 (initial checkpoints, state.json, lineage)."""
    from popbased.league.run import run as league_run, train_config as league_config
    from popbased.league.spec import load
    from popbased.population.run import run as pbt_run, train_config

    work = tmp_path_factory.mktemp("population")
    shape = dict(workers=1, envs_per_worker=1, env_backend="inline", device="cpu", seed=5)
    spec = tiny_spec()
    pbt_run(spec, train_config(spec, 1, rollout_length=100, out=str(work / "pbt"), **shape), 0)
    league = load(tiny_league(work))
    league_run(league, league_config(league, 1, rollout_length=50, out=str(work / "league"), **shape), 0)
    return work


def _ref(members, label="p"):
    from popbased.evaluation.policies import PolicyRef

    return PolicyRef(label, "population", "/run", {}, tuple(members))


def test_member_i_of_n_sits_in_every_seat_j_with_j_mod_n_equal_i():
    from popbased.errors import BadInput
    from popbased.evaluation.policies import PolicyRef

    four = _ref(["a", "b", "c", "d"])
    assert four.seats(7) == ["a", "b", "c", "d", "a", "b", "c"]
    assert four.seats(4) == ["a", "b", "c", "d"]
    assert _ref(["a", "b", "c"]).seats(7) == ["a", "b", "c", "a", "b", "c", "a"]
    assert _ref(["a"]).seats(3) == ["a", "a", "a"]
    with pytest.raises(BadInput, match="5 members for 4 seats"):
        _ref("abcde").seats(4)  # one member would never play
    assert PolicyRef("x", "checkpoint", "x.pt").seats(3) == ["x.pt"] * 3  # one policy: every seat
    assert PolicyRef("random", "random").seats(2) == [None, None]


def test_a_pbt_run_resolves_to_its_members_current_checkpoints(runs):
    from popbased.evaluation.policies import resolve
    from popbased.runs.folder import open_run

    state = json.loads((runs / "pbt" / "state.json").read_text())
    p = resolve(f"population:{runs / 'pbt'}")
    assert p.kind == "population" and p.label == "tiny (population)"
    files = [str((runs / "pbt" / state["checkpoints"][m]["file"]).resolve()) for m in ("m0", "m1", "m2")]
    assert list(p.members) == files and len(set(files)) == 3
    assert p.seats(7) == files * 2 + files[:1]
    source = p.source
    assert source["kind"] == "population" and source["run_kind"] == "pbt" and source["run_name"] == "tiny"
    assert source["population"] == "tiny" and source["generation"] == 0
    assert source["run_folder"] == str((runs / "pbt").resolve()) and "j % n == i" in source["seats"]
    assert [m["member"] for m in source["members"]] == ["m0", "m1", "m2"]
    for m, file in zip(source["members"], files):
        assert m["checkpoint"] == file
        assert m["sha256"] == state["checkpoints"][m["member"]]["sha256"]
        assert m["sha256"] == open_run(runs / "pbt").member(m["member"]).sha256
    # its one population named explicitly is the same policy
    named = resolve(f"population:{runs / 'pbt'}/tiny")
    assert named.members == p.members and named.label == p.label


def test_a_league_population_resolves_to_that_population_only(runs):
    from popbased.evaluation.policies import resolve

    p = resolve(f"population:{runs / 'league'}/no_zap")
    assert p.label == "tiny/no_zap (population)" and len(p.members) == 2
    assert [m["member"] for m in p.source["members"]] == ["no_zap/m0", "no_zap/m1"]
    assert all("/no_zap/" in f for f in p.members)
    assert p.source["run_kind"] == "league" and p.source["population"] == "no_zap"
    other = resolve(f"population:{runs / 'league'}/open")
    assert set(other.members).isdisjoint(p.members)


@pytest.mark.parametrize("ref, text", [
    ("population:{work}/nope", "no such run folder"),
    ("population:{work}", "not a league or PBT run folder"),
    ("population:{work}/league/nope", "has no population 'nope'; its populations: open, no_zap"),
    ("population:{work}/league", "a league of 2 populations; name one: population:"),
    ("population:{work}/pbt/m0", "has no population 'm0'"),
    ("population:", "expected population:RUN_FOLDER"),
])
def test_bad_population_references_are_one_clear_error(runs, ref, text):
    from popbased.errors import BadInput
    from popbased.evaluation.policies import resolve

    with pytest.raises(BadInput, match="^policy 'population:") as err:
        resolve(ref.format(work=runs))
    assert text in str(err.value) and "\n" not in str(err.value)


def test_a_missing_member_checkpoint_is_one_clear_error(runs, tmp_path):
    import shutil

    from popbased.errors import BadInput
    from popbased.evaluation.policies import resolve

    copy = tmp_path / "pbt"
    shutil.copytree(runs / "pbt", copy)
    (copy / "gen-0000" / "m1.pt").unlink()
    with pytest.raises(BadInput, match="member m1's checkpoint .* is missing"):
        resolve(f"population:{copy}")
    (copy / "gen-0000" / "m1.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInput, match="^policy 'population:.*': member m1: ") as err:
        resolve(f"population:{copy}")
    assert "\n" not in str(err.value)


def test_evaluate_seats_each_population_member_by_the_rule(runs, monkeypatch):
    from popbased.evaluation import run as evaluation
    from popbased.evaluation.policies import resolve

    played = []
    monkeypatch.setattr(evaluation, "_run", lambda jobs, *a, **k: played.extend(jobs) or [])
    population = resolve(f"population:{runs / 'pbt'}")
    evaluation.evaluate([population, resolve("random")], "no_zap", [{}, {"players": "3"}],
                        episodes=1, seed=0, max_steps=10)
    seats = {(j["policy"], j["params"].get("players")): j["seats"] for j in played}
    m0, m1, m2 = population.members
    assert seats[("tiny (population)", None)] == [m0, m1, m2, m0, m1, m2, m0]  # no_zap: 7 players
    assert seats[("tiny (population)", "3")] == [m0, m1, m2]
    assert seats[("random", None)] == [None] * 7 and len(played) == 4
    from popbased.errors import BadInput

    with pytest.raises(BadInput, match="3 members for 2 seats"):  # 3 members, 2 seats
        evaluation.evaluate([population], "no_zap", [{"players": "2"}], episodes=1, seed=0, max_steps=10)


def test_matrix_refuses_a_population_and_its_sources_are_tagged(runs):
    from popbased.errors import BadInput
    from popbased.evaluation import report, results
    from popbased.evaluation.policies import resolve
    from popbased.evaluation.run import check_matrix

    population = resolve(f"population:{runs / 'pbt'}")
    with pytest.raises(BadInput, match="not in `matrix`"):
        check_matrix([population, resolve("random")])
    tags = results.source_tags([dict(population.source, label=population.label)])
    assert tags["popbased.policy.0.kind"] == "population" and tags["popbased.policy.0.label"] == "tiny (population)"
    for i, m in enumerate(population.source["members"]):
        assert tags[f"popbased.policy.0.members.{i}.member"] == m["member"]
        assert tags[f"popbased.policy.0.members.{i}.sha256"] == m["sha256"]
    text = report.describe_source(population.source)
    assert "population tiny of pbt tiny" in text and "3 members mixed in the seats" in text
    assert all(m["sha256"][:12] in text for m in population.source["members"])


def test_cli_bad_population_is_exit_2_one_line(runs, tmp_path):
    one_line_error(popbased(tmp_path, "evaluate", "run", f"population:{runs}/league/nope", "--substrate",
                            "no_zap", "-o", "out"), "has no population 'nope'")
    one_line_error(popbased(tmp_path, "evaluate", "run", f"population:{runs / 'pbt'}", "random", "--substrate",
                            "no_zap", "-p", "players=2", "-o", "out"), "3 members for 2 seats")


@pytest.mark.slow  # real Ray, one short episode each on the fast env
def test_a_population_plays_an_evaluation(runs, ray_local, tmp_path):
    import pandas as pd

    made = popbased(tmp_path, "evaluate", "run", f"population:{runs / 'pbt'}", "random", "--substrate",
                    "no_zap", "--episodes", 1, "--max-episode-steps", 30, "--env", "fast", "-o", "res",
                    "--ray-address", ray_local["address"])
    assert made.returncode == 0, made.stderr[-3000:]
    summary = pd.read_csv(tmp_path / "res" / "summary.csv")
    assert sorted(summary["policy"]) == ["random", "tiny (population)"]
    players = pd.read_csv(tmp_path / "res" / "players.csv")
    assert len(players[players["policy"] == "tiny (population)"]) == 7
    info = json.loads((tmp_path / "res" / "evaluation.json").read_text())
    source = info["sources"][0]
    assert source["kind"] == "population" and len(source["members"]) == 3
    assert "population tiny of pbt tiny" in (tmp_path / "res" / "report.html").read_text()
