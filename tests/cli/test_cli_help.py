"""Help and start-up (popbased.cli): every summary in a command list is whole (no "..."), the
main commands' help ends with examples, and `popbased --help`, `popbased CMD --help` and a
completion load no heavy library (torch, Ray, MLflow, pandas, numpy, rich) and only the
commands they need. Start-up time itself is measured by scripts/bench_cli, not here."""

import json
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from conftest import invoke
from popbased.cli import COMMANDS, cli

HEAVY = ("torch", "ray", "mlflow", "pandas", "numpy", "scipy", "matplotlib", "rich")
GROUPS = [(), ("evaluate",), ("export",), ("league",), ("lineage",), ("study",),
          ("substrates",), ("tracking",)]


def _summaries(help_text: str) -> dict[str, str]:
    """name -> summary of the "Commands:" section of a help page."""
    section = help_text.split("Commands:\n", 1)[1]
    rows = {}
    for line in section.splitlines():
        name, _, summary = line.strip().partition(" ")
        if line.startswith("  ") and not line.startswith("   ") and name:
            rows[name] = summary.strip()
    return rows


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "popbased")
def test_summaries_are_whole_first_sentences(path):
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    group = cli
    for name in path:
        group = group.get_command(click.Context(group), name)
    rows = _summaries(result.stdout)
    assert set(rows) == {n for n in group.list_commands(click.Context(group))
                         if not group.get_command(click.Context(group), n).hidden}
    for name, summary in rows.items():
        whole = group.get_command(click.Context(group), name).get_short_help_str(limit=10_000)
        assert summary == whole and not summary.endswith("..."), (name, summary)


@pytest.mark.parametrize("path", [("train",), ("pbt",), ("league", "launch"), ("resume",),
                                  ("status",), ("evaluate", "run"), ("export", "champion"), ()],
                         ids=lambda p: " ".join(p) or "popbased")
def test_main_commands_show_examples(path):
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Examples:" in text or "quick start" in text
    examples = [line.strip() for line in text.splitlines() if line.startswith("    popbased ")]
    assert len(examples) >= 2, text
    # kept line by line (click's \b), each an example of a real command
    for line in examples:
        assert line.split()[1] in COMMANDS, line


def _fresh(code: str) -> dict:
    """Runs `code` in a fresh interpreter; returns what it printed as JSON (last line)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd="/")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


PROBE = """
import json, os, sys
{setup}
from popbased.cli import main
sys.argv = {argv!r}
try:
    main()
except SystemExit:
    pass
print()
print(json.dumps({{"heavy": [m for m in {heavy!r} if m in sys.modules],
                  "commands": sorted(m.rsplit(".", 1)[1] for m in sys.modules
                                     if m.startswith("popbased.cli.") and m.count(".") == 2)}}))
"""


@pytest.mark.parametrize("argv, setup, loaded", [
    (["popbased", "--help"], "", set(COMMANDS)),
    (["popbased", "train", "--help"], "", {"train", "options"}),
    (["popbased", "evaluate", "run", "--help"], "", {"evaluate", "options"}),
    (["popbased"], "os.environ.update(_POPBASED_COMPLETE='bash_complete', COMP_WORDS='popbased tr', "
                   "COMP_CWORD='1')", {"train", "tracking"}),
], ids=["help", "train-help", "evaluate-run-help", "complete"])
def test_help_and_completion_load_no_heavy_library(argv, setup, loaded):
    seen = _fresh(PROBE.format(setup=setup, argv=argv, heavy=HEAVY))
    assert seen["heavy"] == [], seen
    assert set(seen["commands"]) - {"options", "tracking"} <= loaded, seen  # tracking: MOVE
    assert loaded - {"options"} <= set(seen["commands"]), seen


def test_completion_offers_the_matching_commands():
    out = subprocess.run([sys.executable, "-m", "popbased.cli"], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "_POPBASED_COMPLETE": "bash_complete",
                                           "COMP_WORDS": "popbased tr", "COMP_CWORD": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["plain,tracking", "plain,train"]


def test_a_reader_that_goes_away_is_not_a_bug(tmp_path):
    """`popbased ... | head -1`: the pipe closes before popbased writes; it stops quietly
    (exit 1, nothing on stderr), not with 'internal error: BrokenPipeError'."""
    proc = subprocess.Popen([sys.executable, "-m", "popbased.cli", "substrates", "list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.close()  # before it has written anything: it starts in about a second
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1 and "internal error" not in err and "Traceback" not in err, err
