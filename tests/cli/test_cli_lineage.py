"""`popbased lineage show | tree` on a run folder's lineage.jsonl, and the family tree."""

from click.testing import CliRunner

from popbased.cli import cli
from popbased.population import family
from popbased.population.lineage import LineageEvent, LineageLog


def write_run(folder):
    """Two populations; in generation 1 a/m1 copies a/m0, in generation 2 a/m0 copies a/m1."""
    log = LineageLog(folder / "lineage.jsonl")
    for m in ("a/m0", "a/m1", "b/m0", "b/m1"):
        log.append(LineageEvent(m, 0, 0, "init", {"lr": 1e-3}, reason="sampled"))
    log.append(LineageEvent("a/m0", 1, 10, "keep", {"lr": 1e-3}, fitness=5.0, reason="top group"))
    log.append(LineageEvent("a/m1", 1, 10, "exploit", {"lr": 1e-3}, {"lr": [2e-3, 1e-3, "copied"]},
                            donor="a/m0", fitness=1.0, donor_fitness=5.0, reason="bottom group"))
    log.append(LineageEvent("a/m1", 1, 10, "explore", {"lr": 1.2e-3}, {"lr": [1e-3, 1.2e-3, "g"]}))
    log.append(LineageEvent("a/m1", 2, 20, "keep", {"lr": 1.2e-3}, fitness=9.0, reason="top group"))
    log.append(LineageEvent("a/m0", 2, 20, "exploit", {"lr": 1.2e-3}, {}, donor="a/m1",
                            fitness=2.0, donor_fitness=9.0, reason="bottom group"))
    return log


def test_family_tree_follows_the_copies(tmp_path):
    log = write_run(tmp_path)
    roots, current = family.build(log.events)
    a0, a1, b0, b1 = roots
    assert (a0.ended, a1.ended, b0.alive, b1.alive) == (2, 1, True, True)
    child = a0.children[0]  # a/m1's line from generation 1, copied from a/m0's first line
    assert child.member == "a/m1" and child.born == 1 and child.alive
    assert current["a/m1"] is child and current["a/m0"] is child.children[0]
    assert current["a/m0"].parent is child and current["a/m0"].born == 2
    assert a0.surviving() and not a1.surviving()  # a/m1's own first line left no descendants


def test_lineage_show_and_tree(tmp_path):
    write_run(tmp_path)
    runner = CliRunner()
    shown = runner.invoke(cli, ["lineage", "show", str(tmp_path / "a" / "m0")])
    assert shown.exit_code == 0, shown.output
    assert "copied: a/m1 (most recent first)" in shown.output
    assert "gen 2: a/m0 <- a/m1 (fitness 2 vs 9" in shown.output
    tree = runner.invoke(cli, ["lineage", "tree", str(tmp_path)])
    assert tree.exit_code == 0, tree.output
    assert tree.output.count("a/m1 (gen 1-now, copied a/m0") == 1
    assert "a/m0 (gen 2-now, copied a/m1" in tree.output and "b/m1 (gen 0-now)" in tree.output


def test_bad_lineage_references_are_one_line_exit_2(tmp_path):
    write_run(tmp_path)
    runner = CliRunner()
    missing = runner.invoke(cli, ["lineage", "show", str(tmp_path / "a" / "m9")])
    assert missing.exit_code == 2 and "no member 'a/m9'" in missing.output
    nowhere = runner.invoke(cli, ["lineage", "tree", str(tmp_path / "nothing")])
    assert nowhere.exit_code == 2 and "no such run folder, league name or MLflow run id" in nowhere.output


def test_lineage_graph_points_and_png(tmp_path):
    from popbased.population.family_plot import points

    log = write_run(tmp_path)
    members, fitness, edges = points(log.events)
    assert members == ["a/m0", "a/m1", "b/m0", "b/m1"]
    assert fitness[("a/m1", 1)] == 1.0 and fitness[("a/m0", 2)] == 2.0
    assert fitness[("a/m0", 3)] is None  # its current weights, copied from a/m1 after generation 2
    assert ("a/m0", 1, "a/m1", 2, True) in edges and ("a/m1", 2, "a/m0", 3, True) in edges
    assert ("a/m0", 1, "a/m0", 2, False) in edges
    runner = CliRunner()
    png = tmp_path / "lineage.png"
    made = runner.invoke(cli, ["lineage", "graph", str(tmp_path), "-o", str(png)])
    assert made.exit_code == 0, made.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = png.stat().st_mtime_ns
    again = runner.invoke(cli, ["lineage", "graph", str(tmp_path), "-o", str(png)])
    assert again.exit_code == 2 and "--force" in again.output and png.stat().st_mtime_ns == before
    forced = runner.invoke(cli, ["lineage", "graph", str(tmp_path), "-o", str(png), "--force"])
    assert forced.exit_code == 0
    wrong = runner.invoke(cli, ["lineage", "graph", str(tmp_path), "-o", str(tmp_path / "x.jpg")])
    assert wrong.exit_code == 2 and "PNG" in wrong.output
