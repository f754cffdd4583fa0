"""`popbased substrates list | run`: JSON output, and bad input as one line, exit 2."""

import json

import pytest

from conftest import invoke


def test_list_json_reports_bots_and_variants():
    result = invoke("substrates", "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    names = {s["name"] for s in data["substrates"]}
    assert {"open", "no_zap", "farmer", "clean_up"} <= names
    assert isinstance(data["bots"]["installed"], bool)


def test_run_json_random_baseline():
    result = invoke("substrates", "run", "scarcity", "-p", "players=3", "--episodes", "2",
                    "--max-episode-steps", "60", "--seed", "1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["params"]["regrowth"] == 0.5 and data["players"] == 3
    assert data["summary"]["episodes"] == 2
    assert len(data["episodes"]) == 2 and all(e["steps"] == 60 for e in data["episodes"])


@pytest.mark.parametrize("env", ["fast", "meltingpot"])
def test_run_a_scripted_policy_in_every_seat(env):
    result = invoke("substrates", "run", "open", "--policy", "scripted:sustainable", "--env", env,
                    "--episodes", "1", "--max-episode-steps", "50", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["env"] == env and [e["steps"] for e in data["episodes"]] == [50]


@pytest.mark.parametrize("args, message", [
    (("substrates", "run", "open", "--policy", "scripted:nope"), "scripted:nope"),
    (("substrates", "run", "opne"), "did you mean open"),
    (("substrates", "run", "open", "-p", "regrowth=0"), "regrowth"),
    (("substrates", "run", "open", "-p", "zap_cooldown=0"), "zap_cooldown"),
    (("substrates", "run", "open", "-p", "nonsense"), "key=value"),
    (("substrates", "run", "no_zap", "-p", "zap_cooldown=3"), "cannot combine"),
    (("substrates", "compare", "open", "bogus"), "unknown substrate"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 and message in lines[0], result.output
