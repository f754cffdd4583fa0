"""Tables (popbased.cli.tables): never cut when piped, plain columns; a table on a terminal."""

from click.testing import CliRunner

from popbased.cli import cli


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
