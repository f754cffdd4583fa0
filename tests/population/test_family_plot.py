"""The lineage graph (popbased.population.family_plot): its points and edges, and the PNG that
`popbased lineage graph` draws."""

from click.testing import CliRunner

from popbased.cli import cli

from conftest import write_lineage_run


def test_lineage_graph_points_and_png(tmp_path):
    from popbased.population.family_plot import points

    log = write_lineage_run(tmp_path)
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
