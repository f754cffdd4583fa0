"""The substrate registry (popbased.substrates): stock substrates and variants by name."""

from popbased import substrates
from popbased.substrates.meltingpot_loader import import_module


def test_registry_sorted_and_complete():
    names = substrates.names()
    assert names == sorted(names)
    stock = import_module("configs.substrates").SUBSTRATES
    assert set(stock) <= set(names)
    for variant in ("open", "no_zap", "farmer", "scarcity", "abundance", "private_property",
                    "zap_cooldown"):
        assert substrates.entry(variant).kind == "variant"
    assert substrates.entry("commons_harvest__partnership").kind == "commons"
    assert substrates.entry("clean_up").kind == "stock"


def test_no_zap_drops_only_fire_zap():
    open_spec = substrates.resolve("open")
    no_zap = substrates.resolve("no_zap")
    assert "FIRE_ZAP" in open_spec.action_names
    assert no_zap.action_names == tuple(a for a in open_spec.action_names if a != "FIRE_ZAP")
