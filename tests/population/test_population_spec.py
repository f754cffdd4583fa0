"""populations/*.toml (popbased.population.spec): every shipped spec loads; bad files are one
clear error naming the key."""

import pytest

from popbased.errors import BadInput
from popbased.population.spec import load, parse

from conftest import ROOT


GOOD = """
[population]
substrate = "open"
size = 4
[ppo]
epochs = 2
[evolve.lr]
init = [1e-4, 1e-3]
bounds = [1e-5, 1e-2]
scale = "log"
[evolve.gamma]
init = 0.99
bounds = [0.9, 0.999]
scale = "one_minus_log"
[shaping.zapped]
init = [-0.2, 0.0]
bounds = [-1.0, 0.0]
"""


def test_every_shipped_population_loads():
    files = sorted((ROOT / "populations").glob("*.toml"))
    names = {f.stem for f in files}
    assert {"open", "no_zap", "farmer", "scarcity", "abundance", "private_property"} <= names
    assert any(n.startswith("zap_cooldown") for n in names)
    for f in files:
        spec = load(f)
        assert spec.size >= 2 and {g.name for g in spec.genes} >= {"lr", "gamma"}
    assert load(ROOT / "populations/zap_cooldown_10.toml").params == {"zap_cooldown": 10}
    assert "farmer" in {g.name for g in load(ROOT / "populations/farmer.toml").shaping}
    held_out = {f.stem: load(f) for f in (ROOT / "populations" / "heldout").glob("*.toml")}
    assert {n: s.substrate for n, s in held_out.items()} == {  # suites/heldout_maps.toml's backgrounds
        "closed": "commons_harvest__closed", "partnership": "commons_harvest__partnership",
        "private_property": "private_property"}


def test_good_spec(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    spec = load(path)
    assert spec.name == "mine" and spec.ppo.lr == 1e-4 and spec.ppo.epochs == 2
    assert spec.genes[1].scale == "one_minus_log" and spec.shaping[0].bounds == (-1.0, 0.0)
    assert spec.env == "auto"
    path.write_text(GOOD.replace("size = 4", 'size = 4\nenv = "meltingpot"'))
    assert load(path).env == "meltingpot"


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("[ppo]\nepochs", "[ppo]\nepochz"), "unknown key 'epochz' (did you mean 'epochs'?)"),
    (lambda t: t.replace('substrate = "open"', 'substrate = "opne"'), "unknown substrate"),
    (lambda t: t.replace("size = 4", "size = 1"), "at least 2 members"),
    (lambda t: t.replace("bounds = [1e-5, 1e-2]", "bounds = [1e-2, 1e-5]"), "lower 0.01 > upper 1e-05"),
    (lambda t: t.replace("bounds = [1e-5, 1e-2]", "bounds = [0, 1e-2]"), "log scale needs positive"),
    (lambda t: t.replace("init = 0.99", "init = 0.95\nbounds2 = 1"), "unknown key 'bounds2'"),
    (lambda t: t.replace("init = [-0.2, 0.0]", "init = [-2.0, 0.0]"), "outside bounds"),
    (lambda t: t.replace("[shaping.zapped]", "[shaping.zaped]"), "did you mean 'zapped'"),
    (lambda t: t.replace('scale = "log"', 'scale = "exp"'), "allowed: linear, log, one_minus_log"),
    (lambda t: t + "\n[evolve.epochs]\ninit = 2\nbounds = [1, 4]\n", "both fixed in [ppo] and evolved"),
    (lambda t: t + "\n[evolve.bptt]\ninit = 20\nbounds = [10, 40]\n", "[evolve.bptt]: the LSTM's sequence length is fixed"),
    (lambda t: t.replace("[population]", "[populaton]"), "did you mean 'population'"),
    (lambda t: t.replace('substrate = "open"', 'substrate = "open"\nparams = { regrowth = -1 }'),
     "regrowth"),
    (lambda t: t + "\n[pbt]\nselecton = 'tournament'\n", "did you mean 'selection'"),
    (lambda t: t + "\n[pbt]\nfitness = 'gini'\n", "allowed: return, sustainability, equality, pareto"),
    (lambda t: t.replace("size = 4", "size = 3") + "\n[pbt]\nfraction = 0.5\n", "overlap"),
    (lambda t: t + "\n[pbt]\nconfidence = 1.5\n", "must be in [0, 1)"),
    (lambda t: t + "\n[pbt]\nsamples = 'world'\n", "samples='world'; allowed: fragment, episode"),
    (lambda t: t + "\n[pbt]\nsamples = 'episode'\n", "samples='episode' needs seating = \"world\""),
    (lambda t: t + "\n[pbt]\ncrossover = 1\n", "expected bool"),
    (lambda t: t + "\n[pbt]\nfraction = 'half'\n", "expected float"),
    (lambda t: t.replace("size = 4", 'size = 4\nenv = "gpu"'), "population.env='gpu'; allowed: auto, fast, meltingpot"),
    (lambda t: t.replace("init = [-0.2, 0.0]", "init = [-0.2, 0.0]\ngrid = 1"), "grid: expected true or false"),
])
def test_bad_specs_name_file_and_key(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD))
    with pytest.raises(BadInput) as err:
        load(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_not_toml_or_missing(tmp_path):
    (tmp_path / "x.toml").write_text("[population\n")
    with pytest.raises(BadInput, match="not valid TOML"):
        load(tmp_path / "x.toml")
    with pytest.raises(BadInput, match="no such population file"):
        load(tmp_path / "missing.toml")
    with pytest.raises(BadInput, match=r"missing \[population\]"):
        parse({}, "inline")
