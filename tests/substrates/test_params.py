import pytest

from popbased import substrates
from popbased.errors import BadInput
from popbased.substrates.params import parse_assignments, parse_params


def test_defaults_and_types():
    p = parse_params({"regrowth": "10^-1.5", "no_zap": "yes", "players": "3"})
    assert p.regrowth == pytest.approx(10 ** -1.5)
    assert p.no_zap is True and p.players == 3 and p.zap_cooldown == 2


@pytest.mark.parametrize("raw, message", [
    ({"regrowth": "0"}, "regrowth"),
    ({"regrowth": "nan"}, "finite"),
    ({"regrowth": "inf"}, "finite"),
    ({"regrowth": "lots"}, "expected a number"),
    ({"zap_cooldown": "0"}, ">= 1"),
    ({"zap_cooldown": "2.5"}, "integer"),
    ({"no_zap": "maybe"}, "true or false"),
    ({"map": "islands"}, "allowed maps"),
    ({"regrwth": "2"}, "did you mean regrowth"),
    ({"no_zap": "true", "zap_cooldown": "5"}, "cannot combine"),
    ({"players": "0"}, "between 1"),
    ({"farmer_weight": "-1"}, ">= 0"),
])
def test_bad_values_name_the_key(raw, message):
    with pytest.raises(BadInput, match=message):
        parse_params(raw)


def test_variant_fixed_keys_conflict():
    with pytest.raises(BadInput, match="fixes map"):
        substrates.resolve_params("private_property", {"map": "open"})
    with pytest.raises(BadInput, match="fixes map"):
        substrates.resolve_params("commons_harvest__closed", {"map": "open"})


def test_variants_combine():
    p = substrates.resolve_params("no_zap", {"regrowth": "0.5", "map": "closed"})
    assert p.no_zap and p.regrowth == 0.5 and p.map == "closed"
    assert substrates.resolve_params("scarcity").regrowth == 0.5
    assert substrates.resolve_params("abundance").regrowth == 2.0
    assert substrates.resolve_params("farmer").farmer_weight > 0


def test_unknown_substrate_suggests():
    with pytest.raises(BadInput, match="did you mean.*commons_harvest__open"):
        substrates.resolve("commons_harvest_open")


def test_stock_substrates_take_no_params():
    with pytest.raises(BadInput, match="takes no parameters"):
        substrates.resolve("clean_up", {"regrowth": "2"})


def test_parse_assignments():
    assert parse_assignments(["a=1", "b = x"]) == {"a": "1", "b": "x"}
    with pytest.raises(BadInput, match="key=value"):
        parse_assignments(["oops"])
