"""One set of flags across the commands (popbased.cli.options): -o/--out, --episodes/-n,
--max-episode-steps, --total-steps, --device; the spellings of the last release still parse
the same (hidden aliases) and are absent from --help; choices are offered by completion;
`popbased resume` is the one way to resume, `pbt --resume` and `league resume` its aliases."""

import re

import click
import pytest
from click.shell_completion import ShellComplete

from conftest import invoke
from popbased.cli import cli


def command(*path: str) -> click.Command:
    """The click command at `popbased PATH...` (loading its module, as the CLI does)."""
    cmd = cli
    for name in path:
        cmd = cmd.get_command(click.Context(cmd), name)
    return cmd


def parsed(path: tuple[str, ...], args: list[str]) -> dict:
    """The parameters `popbased PATH... ARGS...` parses to; nothing runs."""
    with command(*path).make_context(" ".join(("popbased", *path)), list(args)) as ctx:
        return dict(ctx.params)


# (command, arguments every case needs, old spelling, new spelling, value, parameter)
RENAMED = [
    (("train",), ["open"], "--steps", "--total-steps", "700", "steps"),
    (("study", "run"), [], "--budget", "--total-steps", "9000", "budget"),
    (("study", "run"), [], "--max-steps", "--max-episode-steps", "60", "max_episode_steps"),
    (("evaluate", "run"), ["random", "-o", "r"], "--max-steps", "--max-episode-steps", "30",
     "max_episode_steps"),
    (("evaluate", "run"), ["random"], "--output", "--out", "results", "out"),
    (("evaluate", "sweep"), ["regrowth", "random"], "--output", "--out", "results", "out"),
    (("evaluate", "sweep"), ["regrowth", "random", "-o", "r"], "--max-steps", "--max-episode-steps",
     "30", "max_episode_steps"),
    (("evaluate", "matrix"), ["a.pt", "b.pt"], "--output", "--out", "results", "out"),
    (("evaluate", "matrix"), ["a.pt", "b.pt", "-o", "r"], "--max-steps", "--max-episode-steps",
     "30", "max_episode_steps"),
    (("evaluate", "scenario"), ["commons_harvest__open_0", "random"], "--output", "--out", "r",
     "out"),
    (("evaluate", "scenario"), ["commons_harvest__open_0", "random", "-o", "r"], "--max-steps",
     "--max-episode-steps", "30", "max_episode_steps"),
    (("evaluate", "report"), ["results"], "--output", "--out", "report.md", "out"),
    (("export", "champion"), ["runs/x"], "--output", "--out", "champions", "out"),
    (("render",), ["--random"], "--output", "--out", "e.mp4", "out"),
    (("render",), ["--random", "-o", "e.mp4"], "--steps", "--max-episode-steps", "40",
     "max_episode_steps"),
    (("lineage", "graph"), ["runs/x"], "--output", "--out", "g.png", "out"),
    (("substrates", "run"), ["open"], "--steps", "--max-episode-steps", "50", "max_episode_steps"),
    (("substrates", "compare"), ["open", "no_zap"], "--steps", "--max-episode-steps", "50",
     "max_episode_steps"),
    (("substrates", "validate"), ["open", "-o", "v"], "--steps", "--max-episode-steps", "50",
     "max_episode_steps"),
]


def _id(case) -> str:
    return f"{' '.join(case[0])} {case[2]}"


@pytest.mark.parametrize("path, base, old, new, value, name", RENAMED, ids=map(_id, RENAMED))
def test_an_old_spelling_parses_as_the_new_one(path, base, old, new, value, name):
    with_old, with_new = parsed(path, [*base, old, value]), parsed(path, [*base, new, value])
    assert with_old == with_new
    assert str(with_new[name]) == value


@pytest.mark.parametrize("path, base, old, new, value, name", RENAMED, ids=map(_id, RENAMED))
def test_an_old_spelling_is_absent_from_help_and_completion(path, base, old, new, value, name):
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert re.search(rf"(?<![\w-]){re.escape(new)}(?![\w-])", result.stdout)
    assert not re.search(rf"(?<![\w-]){re.escape(old)}(?![\w-])", result.stdout), result.stdout
    offered = [c.value for c in _complete([*path, *base], "--")]
    assert new in offered and old not in offered


def test_an_old_spelling_runs_the_command_as_the_new_one():
    """Through the runner: the alias reaches the command, which checks the value as it would
    the new flag's (here: refused before anything starts, one line, exit 2)."""
    for args, text in ((("train", "open", "--steps", "0"), "--total-steps"),
                       (("evaluate", "run", "random", "--output", "r", "--max-steps", "0"),
                        "--max-episode-steps"),
                       (("render", "--random", "--output", "x.txt"), "x.txt")):
        result = invoke(*args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1 and text in lines[0], result.stderr


@pytest.mark.parametrize("path, base", [
    (("train",), ["open"]), (("pbt",), ["p.toml"]), (("league", "launch"), ["l.toml"]),
    (("study", "run"), []), (("evaluate", "run"), []), (("evaluate", "scenario"), []),
    (("evaluate", "report"), ["r"]), (("export", "champion"), ["x"]), (("render",), []),
    (("lineage", "graph"), ["x"]), (("substrates", "validate"), ["open"]),
])
def test_every_output_is_dash_o_or_dash_dash_out(path, base):
    assert parsed(path, [*base, "-o", "here"])["out"] == parsed(path, [*base, "--out", "here"])["out"] == "here"


@pytest.mark.parametrize("path, base", [
    (("evaluate", "run"), ["-o", "r"]), (("evaluate", "sweep"), ["regrowth", "-o", "r"]),
    (("evaluate", "matrix"), ["-o", "r"]), (("evaluate", "scenario"), ["-o", "r"]),
    (("study", "run"), []), (("substrates", "run"), ["open"]),
    (("substrates", "compare"), ["open"]), (("substrates", "validate"), ["open", "-o", "v"]),
])
def test_every_episode_count_is_episodes_or_n(path, base):
    assert parsed(path, [*base, "-n", "3"])["episodes"] == parsed(path, [*base, "--episodes", "3"])["episodes"] == 3


def test_pbt_and_league_episode_flags_keep_their_meaning():
    """pbt cuts episodes (--max-episode-steps); a league's --episode-steps is the length of
    every league episode (the league file's episode_steps), not a cut."""
    assert parsed(("pbt",), ["p.toml", "--max-episode-steps", "100"])["max_episode_steps"] == 100
    launch = command("league", "launch")
    assert {o for p in launch.params for o in p.opts} >= {"--episode-steps", "-o", "--out"}
    assert "not a cut" in {p.name: p for p in launch.params}["episode_steps"].help


def _complete(args: list[str], incomplete: str):
    return ShellComplete(cli, {}, "popbased", "_POPBASED_COMPLETE").get_completions(args, incomplete)


@pytest.mark.parametrize("args, offered", [
    (["train", "open", "--device"], ["auto", "cpu", "cuda", "cuda:0"]),
    (["study", "run", "--device"], ["auto", "cpu", "cuda", "cuda:0"]),
    (["train", "open", "--env"], ["auto", "fast", "meltingpot"]),
    (["evaluate", "run", "--env"], ["fast", "meltingpot"]),
    (["substrates", "run", "open", "--env"], ["fast", "meltingpot"]),
    (["export", "champion", "x", "--format"], ["onnx", "torchscript", "mlflow"]),
    (["export", "champion", "x", "--by"], ["fitness", "league-score"]),
    (["evaluate", "sweep"], ["regrowth", "cooldown"]),
])
def test_choices_are_offered_by_completion(args, offered):
    assert sorted(c.value for c in _complete(args, "")) == sorted(offered)


def test_device_takes_cuda_n_and_refuses_others_in_one_line():
    assert parsed(("train",), ["open", "--device", "cuda:1"])["device"] == "cuda:1"
    assert [c.value for c in _complete(["train", "open", "--device"], "cu")] == ["cuda", "cuda:0"]
    for args in (("train", "open", "--device", "tpu"), ("resume", "x", "--device", "cuda:x")):
        result = invoke(*args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1, result.stderr
        assert "allowed are auto, cpu, cuda, cuda:N" in lines[0]


def test_a_bad_choice_is_one_line_naming_the_choices():
    result = invoke("export", "champion", "x", "-o", "y", "--format", "pickle")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert "'pickle' is not one of 'onnx', 'torchscript', 'mlflow'" in lines[0]
    assert "export champion --help" in lines[0]


def test_resume_is_the_one_way_and_the_others_are_hidden_aliases(tmp_path):
    league_help, pbt_help = invoke("league", "--help").stdout, invoke("pbt", "--help").stdout
    assert not re.search(r"^\s+resume\b", league_help, re.M) and "--resume" not in pbt_help
    assert "popbased resume" in pbt_help and "popbased resume" in invoke("league", "launch", "--help").stdout
    assert command("league", "resume").hidden
    assert "same as `popbased resume" in command("league", "resume").help
    nowhere = tmp_path / "nowhere"
    for args, text in ((("resume", nowhere), "not a PBT or league run folder"),
                       (("league", "resume", nowhere), "not a league folder"),
                       (("pbt", "p.toml", "--resume"), "popbased resume DIR")):
        result = invoke(*args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1 and text in lines[0], result.stderr
