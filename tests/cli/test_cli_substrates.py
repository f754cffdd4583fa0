import json

import pytest
from click.testing import CliRunner

from popbased.cli import cli


def _run(*args):
    return CliRunner().invoke(cli, list(args))


def test_list_json_reports_bots_and_variants():
    result = _run("substrates", "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    names = {s["name"] for s in data["substrates"]}
    assert {"open", "no_zap", "farmer", "clean_up"} <= names
    assert isinstance(data["bots"]["installed"], bool)


def test_run_json_random_baseline():
    result = _run("substrates", "run", "scarcity", "-p", "players=3", "--episodes", "2",
                  "--steps", "60", "--seed", "1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["params"]["regrowth"] == 0.5 and data["players"] == 3
    assert data["summary"]["episodes"] == 2
    assert len(data["episodes"]) == 2 and all(e["steps"] == 60 for e in data["episodes"])


@pytest.mark.parametrize("args, message", [
    (("substrates", "run", "opne"), "did you mean open"),
    (("substrates", "run", "open", "-p", "regrowth=0"), "regrowth"),
    (("substrates", "run", "open", "-p", "zap_cooldown=0"), "zap_cooldown"),
    (("substrates", "run", "open", "-p", "nonsense"), "key=value"),
    (("substrates", "run", "no_zap", "-p", "zap_cooldown=3"), "cannot combine"),
    (("substrates", "compare", "open", "bogus"), "unknown substrate"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    result = _run(*args)
    assert result.exit_code == 2
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 and message in lines[0], result.output


def test_doctor_json():
    result = _run("doctor", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["torch_build"] in ("cpu", "cuda")


def test_tables_are_never_cut_when_piped():
    import io

    from rich.console import Console

    from popbased.cli.tables import show_table
    from popbased.league.report import payoff_table

    rows = [{"focal": "a_population_with_a_long_name", "background": "another_long_name@g12",
             "mode": "visitor", "episodes": 3, "return": 12.5, "ci_low": 10.0, "ci_high": 15.0,
             "background_return": 3.25, "gini": 0.5, "depleted": 0.0}]
    piped = io.StringIO()
    show_table(Console(file=piped, width=40), payoff_table(rows, {"a_population_with_a_long_name": 1.0}, "payoff"))
    lines = piped.getvalue().splitlines()
    assert lines[0] == "payoff"
    assert lines[1].split("\t") == ["focal", "background", "mode", "n", "return (95% CI)",
                                    "bg return", "Gini", "depleted"]
    assert lines[2].split("\t") == ["a_population_with_a_long_name", "another_long_name@g12",
                                    "visitor", "3", "12.5 [10.0, 15.0]", "3.2", "0.50", "0%"]
    terminal = io.StringIO()
    show_table(Console(file=terminal, width=200, force_terminal=True), payoff_table(rows, {}, "payoff"))
    assert "┃" in terminal.getvalue() and "\t" not in terminal.getvalue()  # a table on a terminal
    listed = CliRunner().invoke(cli, ["substrates", "list"])  # output captured: not a terminal
    assert listed.exit_code == 0
    assert any(l.split("\t")[0] == "allelopathic_harvest__open" for l in listed.output.splitlines())
