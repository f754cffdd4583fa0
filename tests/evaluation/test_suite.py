"""Our own scenario suite (popbased.evaluation.suite, `popbased evaluate suite`): the shipped
suite loads; a missing background policy or a bad split is one line, exit 2; the score is 0 for
random play and 1 for the reference by construction, and a tiny suite plays on the fast env
from the CLI with the reference and random focal in every scenario."""

import json
import math

import pytest

from popbased.errors import BadInput
from popbased.evaluation import suite

from conftest import ROOT, one_line_error, popbased

HEAD = '[suite]\nname = "t"\nreference = "scripted:sustainable"\n'


def _file(tmp_path, body):
    path = tmp_path / "suite.toml"
    path.write_text(HEAD + body)
    return path


def test_the_shipped_suite_covers_four_maps_three_bots_and_both_splits():
    s = suite.load(ROOT / "suites" / "heldout.toml")
    assert len(s.scenarios) == 28
    assert {x.substrate for x in s.scenarios} == {"open", "commons_harvest__closed",
                                                 "commons_harvest__partnership", "private_property"}
    assert {x.background for x in s.scenarios if x.background.startswith("scripted:")} == {
        "scripted:greedy", "scripted:greedy_zapper", "scripted:chaser"}
    assert sum(not x.background.startswith("scripted:") for x in s.scenarios) == 4  # the study's champions
    assert {(x.mode, x.focal) for x in s.scenarios} == {("resident", 5), ("visitor", 2)}


def test_the_shipped_sweeps_suite_plays_each_policy_alone_across_maps_regrowth_and_cooldowns():
    s = suite.load(ROOT / "suites" / "sweeps.toml")
    assert {x.mode for x in s.scenarios} == {"alone"} and all(x.background is None for x in s.scenarios)
    assert s.scenarios[0].seats("p.pt") == ["p.pt"] * 7


def test_the_held_out_maps_suite_plays_among_champions_trained_on_each_map():
    """suites/heldout_maps.toml: resident and visitor on closed, partnership and private_property,
    each among a committed champion (ONNX) of a population trained on that very map."""
    s = suite.load(ROOT / "suites" / "heldout_maps.toml")
    assert {x.substrate for x in s.scenarios} == {"commons_harvest__closed", "commons_harvest__partnership",
                                                 "private_property"}
    assert sorted((x.substrate, x.mode, x.focal) for x in s.scenarios) == sorted(
        (m, mode, focal) for m in ("commons_harvest__closed", "commons_harvest__partnership", "private_property")
        for mode, focal in (("resident", 5), ("visitor", 2)))
    for x in s.scenarios:
        folder = ROOT / "suites" / x.background
        info = json.loads((folder / "policy.json").read_text())
        assert (folder / "policy.onnx").is_file() and info["run"]["arena"] == x.substrate, x.name


@pytest.mark.parametrize("body, message", [
    ('[scenarios.a]\nsubstrate = "open"\nfocal = 8\nbackground = "random"\n', "focal: 8 focal seats; allowed 1 to 6"),
    ('[scenarios.a]\nsubstrate = "open"\nfocal = 7\nbackground = "random"\n', "focal = 7 is every seat: no background"),
    ('[scenarios.a]\nsubstrate = "open"\nfocal = 0\nbackground = "random"\n', "allowed 1 to 6"),
    ('[scenarios.a]\nsubstrate = "open"\nfocal = 2\nbackground = "pops/champion"\n', "'pops/champion' does not exist"),
    ('[scenarios.a]\nsubstrate = "open"\nfocal = 2\nbackground = "scripted:nope"\n', "no such scripted policy"),
    ('[scenarios.a]\nsubstrate = "open"\nfocal = 2\n', "missing background"),
    ('[scenarios.a]\nsubstrate = "clean_up"\nfocal = 2\nbackground = "random"\n', "not of the commons_harvest"),
    ('[scenarios.a]\nsubstrate = "open"\nfocal = 2\nbackground = "random"\nbots = 1\n', "unknown key(s) bots"),
])
def test_bad_scenarios_are_one_line_with_what_is_allowed(tmp_path, body, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        suite.load(_file(tmp_path, body))
    assert "\n" not in str(err.value)


def test_scores_are_zero_for_random_and_one_for_the_reference(tmp_path):
    s = suite.load(_file(tmp_path, '[scenarios.a]\nsubstrate = "open"\nfocal = 2\nbackground = "random"\n'
                                   '[scenarios.b]\nsubstrate = "open"\nfocal = 5\nbackground = "random"\n'))

    def job(scenario, policy, focal_returns):
        return {"scenario": scenario, "policy": policy,
                "episodes": [{"returns": [r] * 2 + [100.0] * 5} for r in focal_returns]}

    made = suite.scored(s, [job("a", "random", [2, 4]), job("a", "reference", [10, 12]), job("a", "p", [7, 7]),
                            job("b", "random", [5, 5]), job("b", "reference", [5, 5]), job("b", "p", [9, 9])])
    got = {(r["scenario"], r["policy"]): r["score"] for r in made["rows"]}
    assert got[("a", "random")] == 0 and got[("a", "reference")] == 1 and got[("a", "p")] == 0.5
    assert math.isnan(got[("b", "p")])  # the reference no better than random: no score
    assert made["overall"]["p"] == {"score": 0.5, "scenarios": 1, "of": 2}
    # the focal return reads the focal seats only (b: 5 focal, two of them at 100)
    assert [r["focal_return"] for r in made["rows"] if r["scenario"] == "b" and r["policy"] == "p"] == [
        pytest.approx((9 * 2 + 100 * 3) / 5)]


def test_with_several_references_the_best_per_scenario_is_the_one(tmp_path):
    """`reference = [A, B]`: each plays focal as reference:A, reference:B, and per scenario the
    best of them by focal return is the `reference` row, the 1 of the score (Melting Pot 2.0's
    "1 = the best reference"); a single reference is recorded as before (a string)."""
    (tmp_path / "s.toml").write_text('[suite]\nreference = ["scripted:sustainable", "scripted:greedy"]\n'
                                     '[scenarios.a]\nsubstrate = "open"\nfocal = 2\nbackground = "random"\n'
                                     '[scenarios.b]\nsubstrate = "open"\nfocal = 2\nbackground = "random"\n')
    s = suite.load(tmp_path / "s.toml")
    assert s.reference == ["scripted:sustainable", "scripted:greedy"]
    assert [label for label, _ in s.played] == ["random", "reference:scripted:sustainable", "reference:scripted:greedy"]
    assert suite.load(_file(tmp_path, '[scenarios.a]\nsubstrate = "open"\nfocal = 2\nbackground = "random"\n')
                      ).reference == "scripted:sustainable"

    def job(scenario, policy, focal_returns):
        return {"scenario": scenario, "policy": policy, "focal_returns": focal_returns}

    made = suite.scored(s, [job("a", "random", [2.0]), job("a", "reference:scripted:sustainable", [12.0]),
                            job("a", "reference:scripted:greedy", [7.0]), job("a", "p", [7.0]),
                            job("b", "random", [2.0]), job("b", "reference:scripted:sustainable", [6.0]),
                            job("b", "reference:scripted:greedy", [10.0]), job("b", "p", [6.0])])
    rows = {(r["scenario"], r["policy"]): r for r in made["rows"]}
    assert rows[("a", "reference")]["best_of"] == "reference:scripted:sustainable"
    assert rows[("b", "reference")]["best_of"] == "reference:scripted:greedy"
    assert rows[("a", "reference")]["focal_returns"] == [12.0] and rows[("b", "reference")]["score"] == 1
    assert rows[("a", "p")]["score"] == 0.5 and rows[("b", "p")]["score"] == 0.5  # by the best one
    assert rows[("b", "reference:scripted:sustainable")]["score"] == 0.5  # scored like any policy
    assert made["overall"]["p"]["score"] == 0.5 and "best of the references" in made["metric"]
    for bad, message in (('["scripted:greedy", "scripted:greedy"]', "a list of different policies"),
                         ("[]", "a list of different policies"),
                         ('["scripted:greedy", "nowhere"]', "'nowhere' does not exist")):
        (tmp_path / "bad.toml").write_text(f'[suite]\nreference = {bad}\n[scenarios.a]\nsubstrate = "open"\n'
                                           f'focal = 7\n')
        with pytest.raises(BadInput, match=message) as err:
            suite.load(tmp_path / "bad.toml")
        assert "\n" not in str(err.value)


def test_several_references_play_from_the_cli_and_their_baselines_are_reused(tmp_path):
    (tmp_path / "s.toml").write_text('[suite]\nreference = ["scripted:sustainable", "scripted:greedy"]\n'
                                     '[scenarios.zap]\nsubstrate = "open"\nfocal = 5\n'
                                     'background = "scripted:greedy_zapper"\n')
    base = popbased(tmp_path, "evaluate", "suite", tmp_path / "s.toml", "-n", 2, "--max-episode-steps", 150,
                    "--env", "fast", "-o", "base")
    assert base.returncode == 0, base.stderr[-3000:]
    assert "1 = the best of scripted:sustainable, scripted:greedy" in " ".join(base.stdout.split())
    played = {r["policy"]: r for r in json.loads((tmp_path / "base" / "suite.json").read_text())["rows"]}
    assert set(played) == {"random", "reference", "reference:scripted:sustainable", "reference:scripted:greedy"}
    best = played["reference"]["best_of"]
    assert played["reference"]["focal_returns"] == played[best]["focal_returns"]
    assert played[best]["focal_return"] == max(played[k]["focal_return"] for k in (
        "reference:scripted:sustainable", "reference:scripted:greedy"))
    mine = popbased(tmp_path, "evaluate", "suite", tmp_path / "s.toml", "scripted:chaser", "-n", 2,
                    "--max-episode-steps", 150, "--env", "fast", "--baselines", tmp_path / "base" / "suite.json",
                    "-o", "mine")
    assert mine.returncode == 0, mine.stderr[-3000:]
    rows = {r["policy"]: r for r in json.loads((tmp_path / "mine" / "suite.json").read_text())["rows"]}
    assert {k: rows[k]["focal_returns"] for k in played} == {k: v["focal_returns"] for k, v in played.items()}
    assert rows["reference"]["best_of"] == best and "scripted:chaser: overall score" in mine.stdout
    assert "reference:scripted:greedy: overall" not in mine.stdout  # a baseline, not a policy compared


def test_a_tiny_suite_plays_from_the_cli_and_bad_input_is_exit_2(tmp_path):
    path = _file(tmp_path, '[scenarios.zap]\nsubstrate = "open"\nfocal = 5\nbackground = "scripted:greedy_zapper"\n'
                           '[scenarios.chase]\nsubstrate = "private_property"\nfocal = 2\n'
                           'background = "scripted:chaser"\n')
    done = popbased(tmp_path, "evaluate", "suite", path, "scripted:greedy", "-n", 2, "--max-episode-steps",
                    200, "--env", "fast", "-o", "out")
    assert done.returncode == 0, done.stderr[-3000:]
    made = json.loads((tmp_path / "out" / "suite.json").read_text())
    assert {(r["scenario"], r["policy"]) for r in made["rows"]} == {
        (s, p) for s in ("zap", "chase") for p in ("random", "reference", "scripted:greedy")}
    assert all(r["episodes"] == 2 for r in made["rows"])
    assert "scripted:greedy: overall score" in done.stdout
    again = popbased(tmp_path, "evaluate", "suite", path, "scripted:greedy", "-n", 2, "--env", "fast", "-o", "out")
    one_line_error(again, "out")  # an existing results folder is not overwritten
    (tmp_path / "afile").write_text("")
    one_line_error(popbased(tmp_path, "evaluate", "suite", path, "-o", "o3", "--keep-tasks", "afile"),
                   "--keep-tasks afile: not a folder")
    assert not (tmp_path / "o3").exists()
    bad = _file(tmp_path, '[scenarios.a]\nsubstrate = "open"\nfocal = 9\nbackground = "random"\n')
    one_line_error(popbased(tmp_path, "evaluate", "suite", bad, "random", "-o", "o2"), "focal: 9 focal seats")
    assert not (tmp_path / "o2").exists()
    gone = _file(tmp_path, '[scenarios.a]\nsubstrate = "open"\nfocal = 2\nbackground = "pops/champion"\n')
    one_line_error(popbased(tmp_path, "evaluate", "suite", gone, "random", "-o", "o4"), "'pops/champion' does not exist")
    assert not (tmp_path / "o4").exists()


def test_a_killed_suite_run_goes_on_from_its_kept_tasks(ray_local, tmp_path, monkeypatch):
    """With `keep` (`evaluate suite --keep-tasks`, an experiment's suite steps) each finished
    task is kept as it finishes; a rerun plays only the tasks not kept, and scores alike."""
    from popbased.evaluation import run as evaluation_run

    s = suite.load(_file(tmp_path, '[scenarios.zap]\nsubstrate = "open"\nfocal = 5\n'
                                   'background = "scripted:greedy_zapper"\n[scenarios.chase]\n'
                                   'substrate = "private_property"\nfocal = 2\nbackground = "scripted:chaser"\n'))
    keep = tmp_path / "tasks"
    first = suite.run(s, [], episodes=2, seed=0, max_steps=60, env="fast", keep=keep)
    kept = sorted(keep.glob("*.json"))
    assert len(kept) == 4  # 2 scenarios x (random, reference)
    kept[0].unlink()  # a task the killed run had not finished
    (keep / "junk.json").write_text("{not json")
    played, real = [], evaluation_run._run
    monkeypatch.setattr(evaluation_run, "_run", lambda jobs, *a, **k: played.extend(
        (j["scenario"], j["policy"]) for j in jobs) or real(jobs, *a, **k))
    again = suite.run(s, [], episodes=2, seed=0, max_steps=60, env="fast", keep=keep)
    assert len(played) == 1 and len(list(keep.glob("*.json"))) == 5
    assert again["rows"] == first["rows"] and again["overall"] == first["overall"]
    played.clear()
    suite.run(s, [], episodes=1, seed=0, max_steps=60, env="fast", keep=keep)  # another run: all played
    assert len(played) == 4


def test_a_kept_task_is_one_of_the_same_players_files(tmp_path):
    from popbased.evaluation.tasks import TaskStore

    policy = tmp_path / "champion"
    policy.mkdir()
    (policy / "policy.onnx").write_bytes(b"weights")
    store = TaskStore(tmp_path / "tasks", {"episodes": 2})
    job = {"scenario": "a", "policy": "p", "params": {}, "seats": [str(policy), None, "scripted:greedy"]}
    assert store.get(job) is None
    store.put(job, {"scenario": "a", "episodes": [{"returns": [1.5, 2]}]})
    assert store.get(dict(job)) == {"scenario": "a", "episodes": [{"returns": [1.5, 2]}]}
    assert TaskStore(tmp_path / "tasks", {"episodes": 3}).get(job) is None  # another run
    (policy / "policy.onnx").write_bytes(b"other weights")  # exported again
    assert TaskStore(tmp_path / "tasks", {"episodes": 2}).get(job) is None


def test_baselines_played_once_are_reused_and_checked(tmp_path):
    path = _file(tmp_path, '[scenarios.zap]\nsubstrate = "open"\nfocal = 5\nbackground = "scripted:greedy_zapper"\n')
    base = popbased(tmp_path, "evaluate", "suite", path, "-n", 2, "--max-episode-steps", 100, "--env", "fast",
                    "-o", "base")
    assert base.returncode == 0, base.stderr[-3000:]
    played = json.loads((tmp_path / "base" / "suite.json").read_text())
    assert {r["policy"] for r in played["rows"]} == {"random", "reference"}
    again = popbased(tmp_path, "evaluate", "suite", path, "scripted:greedy", "-n", 2, "--max-episode-steps", 100,
                     "--env", "fast", "--baselines", tmp_path / "base" / "suite.json", "-o", "mine")
    assert again.returncode == 0, again.stderr[-3000:]
    mine = json.loads((tmp_path / "mine" / "suite.json").read_text())
    rows = {r["policy"]: r for r in mine["rows"]}
    assert rows["random"]["focal_returns"] == [r for r in played["rows"] if r["policy"] == "random"][0]["focal_returns"]
    assert rows["reference"]["score"] == 1 and "scripted:greedy" in rows
    other = popbased(tmp_path, "evaluate", "suite", path, "scripted:greedy", "-n", 3, "--max-episode-steps", 100,
                     "--env", "fast", "--baselines", tmp_path / "base" / "suite.json", "-o", "other")
    one_line_error(other, "played with another episodes (2, here 3)")
    assert not (tmp_path / "other").exists()


def test_a_policy_the_engine_cannot_play_is_one_line_not_a_task_traceback(tmp_path):
    """The first study's no_zap champion reads 88x88 views, which the fast env does not render:
    the Ray task's BadInput comes back as one line, exit 2, and no results folder."""
    champion = ROOT / "results" / "study" / "champions" / "no_zap"
    path = _file(tmp_path, f'[scenarios.a]\nsubstrate = "open"\nfocal = 5\nbackground = "{champion}"\n')
    done = popbased(tmp_path, "evaluate", "suite", path, "scripted:greedy", "-n", 1, "--max-episode-steps", 20,
                    "--env", "fast", "-o", "out")
    one_line_error(done, "--env fast renders 11x11 views; obs_size=88 needs --env meltingpot",
                   ignore="started; a line as tasks finish")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------- Melting Pot's scenarios
def test_a_suite_may_name_melting_pots_scenarios(tmp_path):
    s = suite.load(_file(tmp_path, '[scenarios.mp]\nmeltingpot = "commons_harvest__open_0"\n'
                                   '[scenarios.ours]\nsubstrate = "open"\nfocal = 2\nbackground = "random"\n'))
    mp, ours = s.scenarios
    assert (mp.meltingpot, mp.substrate, mp.players, mp.focal, mp.mode) == (
        "commons_harvest__open_0", "commons_harvest__open", 7, 5, "resident")
    assert mp.focal_seats == (0, 1, 2, 3, 4) and ours.focal_seats == (0, 1)
    # its focal return reads its focal seats, whichever they are
    assert suite.focal_return({"returns": [1, 2, 3, 4, 5, 6, 7]}, (1, 5)) == 4.0
    assert [x["name"] for x in suite._scenarios(s)] == ["mp", "ours"] and "meltingpot" not in suite._scenarios(s)[1]


@pytest.mark.parametrize("body, message", [
    ('[scenarios.a]\nmeltingpot = "commons_harvest__open_9"\n', "not one of Melting Pot's"),
    ('[scenarios.a]\nmeltingpot = "commons_harvest__opn_0"\n', "did you mean commons_harvest__open_0"),
    ('[scenarios.a]\nmeltingpot = "commons_harvest__open_0"\nfocal = 2\n', "unknown key(s) focal beside meltingpot"),
    ('[scenarios.a]\nmeltingpot = "commons_harvest__open_0"\n[scenarios.b]\nmeltingpot = "commons_harvest__open_0"\n',
     "named by more than one"),
])
def test_bad_melting_pot_scenarios_are_one_line(tmp_path, body, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        suite.load(_file(tmp_path, body))
    assert "\n" not in str(err.value)


def test_melting_pots_scenarios_need_their_bots_and_melting_pot_before_anything_is_written(tmp_path):
    path = _file(tmp_path, '[scenarios.mp]\nmeltingpot = "commons_harvest__open_0"\n')
    empty = tmp_path / "bots"
    empty.mkdir()
    missing = popbased(tmp_path, "evaluate", "suite", path, "random", "--bots-root", empty, "-o", "o1")
    one_line_error(missing, "2 of its bots are missing")
    fast = popbased(tmp_path, "evaluate", "suite", path, "random", "--env", "fast", "-o", "o2")
    one_line_error(fast, "play on --env meltingpot only")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_scripted_focal_players_meet_only_commons_harvest_scenarios_said_before_anything(tmp_path):
    # the reference (scripted:sustainable by default) or a scripted POLICY reads the world
    # state popbased adds to the commons_harvest family only: refused before the bots are looked
    # for, Ray started or the folder claimed
    path = _file(tmp_path, '[scenarios.mp]\nmeltingpot = "clean_up_0"\n')
    refused = popbased(tmp_path, "evaluate", "suite", path, "random", "-o", "o1")
    one_line_error(refused, "policy 'scripted:sustainable': scripted policies read the world state")
    assert "not clean_up_0" in refused.stderr
    (tmp_path / "ref.toml").write_text('[suite]\nreference = "random"\n[scenarios.mp]\nmeltingpot = "clean_up_0"\n')
    greedy = popbased(tmp_path, "evaluate", "suite", tmp_path / "ref.toml", "scripted:greedy", "-o", "o2")
    one_line_error(greedy, "policy 'scripted:greedy': scripted policies read the world state")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


@pytest.mark.slow  # plays real Melting Pot scenarios on Ray (TensorFlow in the workers)
def test_a_suite_plays_melting_pots_scenarios_with_their_bots(ray_local, open_bots, tmp_path):
    """commons_harvest__open_0 with bots in DeepMind's format (conftest's: they always zap), its
    focal seats played by random and the scripted reference (reading the world state popbased
    adds), scored as our scenarios are (no POLICY: the baselines alone, two Ray tasks)."""
    path = _file(tmp_path, '[scenarios.mp]\nmeltingpot = "commons_harvest__open_0"\n')
    done = popbased(tmp_path, "evaluate", "suite", path, "-n", 1, "--max-episode-steps", 120,
                    "--bots-root", open_bots, "-o", "out", "--ray-address", ray_local["address"])
    assert done.returncode == 0, done.stderr[-3000:]
    made = json.loads((tmp_path / "out" / "suite.json").read_text())
    rows = {r["policy"]: r for r in made["rows"]}
    assert set(rows) == {"random", "reference"} and rows["reference"]["score"] == 1
    # the reference walks to apples and eats them: far above random's focal return in 120 steps
    assert rows["reference"]["focal_return"] > rows["random"]["focal_return"] + 5
    assert made["scenarios"][0]["meltingpot"] == "commons_harvest__open_0"
    assert made["scenarios"][0]["focal_seats"] == [0, 1, 2, 3, 4]


def test_each_row_says_how_often_its_episodes_were_depleted_both_ways(tmp_path):
    s = suite.load(_file(tmp_path, '[scenarios.a]\nsubstrate = "open"\nfocal = 5\nbackground = "scripted:greedy"\n'))

    def job(policy, depleted, proxy):
        return {"scenario": "a", "policy": policy,
                "episodes": [{"returns": [1.0] * 7, "depleted": d, "proxy_depleted": p} for d, p in zip(depleted, proxy)]}

    made = suite.scored(s, [job("random", [True, True], [True, True]), job("reference", [False, False], [False, True]),
                            job("p", [True, False, False, False], [True, True, False, False])])
    rows = {r["policy"]: r for r in made["rows"]}
    assert (rows["p"]["depleted"], rows["p"]["proxy_depleted"]) == (0.25, 0.5)
    assert (rows["reference"]["depleted"], rows["reference"]["proxy_depleted"]) == (0.0, 0.5)
    # baselines read back from an earlier suite.json keep theirs; episodes without the flags
    # (Melting Pot's own scenarios) give none
    again = suite.scored(s, [{"scenario": "a", "policy": "random", "focal_returns": [1.0], "depleted": 1.0},
                             {"scenario": "a", "policy": "reference", "focal_returns": [2.0]},
                             {"scenario": "a", "policy": "p", "episodes": [{"returns": [1.5] * 7}]}])
    rows = {r["policy"]: r for r in again["rows"]}
    assert rows["random"]["depleted"] == 1.0 and "depleted" not in rows["reference"] and "depleted" not in rows["p"]


def test_the_shipped_melting_pot_suite_names_melting_pots_twelve_commons_harvest_scenarios(tmp_path):
    """suites/meltingpot.toml: DeepMind's scenarios with their bots; where the bots are missing
    (as on this machine) it is refused in one line before anything is written."""
    path = ROOT / "suites" / "meltingpot.toml"
    s = suite.load(path)
    assert [x.meltingpot for x in s.scenarios] == [
        "commons_harvest__open_0", "commons_harvest__open_1", *[f"commons_harvest__closed_{i}" for i in range(4)],
        *[f"commons_harvest__partnership_{i}" for i in range(6)]]
    open0 = s.scenarios[0]
    assert (open0.focal, open0.players) == (5, 7)  # the scenario Melting Pot 2.0's 10-11 per capita is from
    empty = tmp_path / "bots"
    empty.mkdir()
    missing = popbased(tmp_path, "evaluate", "suite", path, "random", "--bots-root", empty, "-o", "o1")
    one_line_error(missing, "of its bots are missing")
    assert not (tmp_path / "o1").exists()
