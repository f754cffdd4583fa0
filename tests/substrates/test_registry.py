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


SHIPPED = {  # name: (description, defaults, fixed, the parameters it runs with by default)
    "open": ("stock commons_harvest open map (the baseline)", {}, {}, {}),
    "no_zap": ("zap action removed from the action space", {}, {"no_zap": True}, {"no_zap": True}),
    "farmer": ("reward component for apples in view (farmer_weight per apple per step)",
               {"farmer_weight": 0.001}, {}, {"farmer_weight": 0.001}),
    "scarcity": ("apple regrowth x0.5", {"regrowth": 0.5}, {}, {"regrowth": 0.5}),
    "abundance": ("apple regrowth x2", {"regrowth": 2.0}, {}, {"regrowth": 2.0}),
    "private_property": ("walled private plot per player, each with its own apple patch", {},
                         {"map": "private_property"}, {"map": "private_property"}),
    "zap_cooldown": ("zap cooldown (Melting Pot cooldownTime; stock 2), default 10",
                     {"zap_cooldown": 10}, {}, {"zap_cooldown": 10}),
}


def test_shipped_variants_keep_their_settings():
    for name, (description, defaults, fixed, params) in SHIPPED.items():
        item = substrates.entry(name)
        assert (item.kind, item.description, dict(item.defaults), dict(item.fixed)) == \
            ("variant", description, defaults, fixed), name
        assert {k: type(v) for k, v in item.defaults.items()} == {k: type(v) for k, v in defaults.items()}
        assert substrates.resolve(name).params == substrates.CommonsParams(**params), name
