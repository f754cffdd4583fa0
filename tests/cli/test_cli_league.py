"""`popbased league`: a bad league file is one line, exit 2, and nothing written."""

from conftest import league_text, popbased, write_league


def test_bad_league_file_from_the_cli_is_one_line_exit_2_and_writes_nothing(tmp_path):
    path = write_league(tmp_path, league_text(populations=("open", "nope")))
    out = tmp_path / "run"
    done = popbased(tmp_path, "league", "launch", path, "--out", out, timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "unknown population" in done.stderr
    assert not out.exists()
