"""`popbased lineage show | tree` on a run folder's lineage.jsonl; bad references."""

from click.testing import CliRunner

from popbased.cli import cli

from conftest import write_lineage_run


def test_lineage_show_and_tree(tmp_path):
    write_lineage_run(tmp_path)
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
    write_lineage_run(tmp_path)
    runner = CliRunner()
    missing = runner.invoke(cli, ["lineage", "show", str(tmp_path / "a" / "m9")])
    assert missing.exit_code == 2 and "no member 'a/m9'" in missing.output
    nowhere = runner.invoke(cli, ["lineage", "tree", str(tmp_path / "nothing")])
    assert nowhere.exit_code == 2 and "no such run folder, league name or MLflow run id" in nowhere.output
