"""League files (popbased.league.spec): the shipped one loads; bad ones are one clear error."""

import math

import pytest

from popbased.errors import BadInput
from popbased.league.spec import load, parse

from conftest import POPS, league_text, write_league


def test_the_shipped_league_file_loads():
    spec = load(POPS / "leagues" / "commons.toml")
    assert [p.name for p in spec.populations] == ["open", "no_zap", "farmer"]
    assert all(p.size == 2 for p in spec.populations)
    assert {m.name: m.focal for m in spec.modes} == {"self_play": 7, "resident": 5, "visitor": 1}
    assert math.isclose(sum(m.share for m in spec.modes), 1.0)
    assert spec.env == "auto" and spec.evaluation_env is None


@pytest.mark.parametrize("text, message", [
    (league_text(populations=("open", "nope")), "unknown population '/.*nope.toml'; known: "),
    ('[league]\nname = "x"\npopulations = []\n', "the league is empty"),
    (league_text(extra="[modes.resident]\nshare = 1\nfocal = 2\n"), "focal=2: out of range"),
    (league_text(extra="[modes.visitor]\nshare = 1\nfocal = 4\n"), "allowed 1..3 (a minority)"),
    (league_text(league="").replace('arena = "open"', 'arena = "clean_up"'),
     "cannot play a clean_up arena"),
    (league_text(extra="[matchmaking]\ntrain = \"elo\"\n"), "allowed: uniform, pfsp"),
    (league_text(extra="[background]\nsources = [\"bots\"]\n"), "bots"),
    (league_text(extra="[fitness]\nkind = \"wins\"\n"), "allowed: league, return"),
    (league_text(extra="[snapshot]\nevery = 1\n"), "did you mean 'snapshots'"),
    (league_text(extra="[evaluation]\nenv = \"real\"\n"), "allowed: fast, meltingpot"),
])
def test_bad_league_files_are_one_clear_error(tmp_path, text, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(write_league(tmp_path, text))


def test_async_pbt_in_a_league_is_refused_with_one_line(tmp_path):
    text = (POPS / "open.toml").read_text()
    assert "[pbt]" not in text
    pop = tmp_path / "open.toml"
    pop.write_text(text + '\n[pbt]\nmode = "async"\n')
    with pytest.raises(BadInput, match='has \\[pbt\\] mode = "async", which a league does not run'):
        parse({"league": {"populations": [str(pop), str(POPS / "no_zap.toml")]}}, "t", POPS)
