"""Variant files (popbased.substrates.variant_files): a user's folder in POPBASED_SUBSTRATES adds
variants that are listed and play on both engines; a bad file is one line of BadInput."""

import json

import numpy as np
import pytest

from popbased import substrates
from popbased.env.engines import make_env
from popbased.errors import BadInput
from popbased.substrates import variant_files

from conftest import ROOT, invoke

HARSH = """# apples regrow at a quarter of the stock rate
description = "apple regrowth x0.25, 3 players"

[defaults]
regrowth = 0.25

[fixed]
players = 3
"""


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """An empty folder named in POPBASED_SUBSTRATES (the registry is read again before and after)."""
    folder = tmp_path / "my_substrates"
    folder.mkdir()
    monkeypatch.setenv(variant_files.ENV, str(folder))
    substrates.reload()
    yield folder
    substrates.reload()


def test_a_users_file_is_listed_and_plays_on_both_engines(user_folder):
    (user_folder / "harsh_scarcity.toml").write_text(HARSH)
    result = invoke("substrates", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)["substrates"]}
    assert rows["harsh_scarcity"]["kind"] == "variant" and rows["harsh_scarcity"]["players"] == 3
    assert rows["harsh_scarcity"]["defaults"] == {"regrowth": 0.25}
    assert rows["harsh_scarcity"]["fixed"] == {"players": 3}
    assert "farmer" in rows  # the repository's variants stay
    spec = substrates.resolve("harsh_scarcity", {"no_zap": "true"})
    assert spec.params.regrowth == 0.25 and spec.params.no_zap and spec.num_players == 3
    assert substrates.entry("harsh_scarcity").path == str(user_folder / "harsh_scarcity.toml")
    for backend in ("fast", "inline"):
        env = make_env(spec, 2, backend=backend, max_episode_steps=5)
        assert env.players == 3 and "FIRE_ZAP" not in env.action_names
        env.reset()
        rng = np.random.default_rng(0)
        episodes = []
        for _ in range(5):
            step = env.step(rng.integers(0, env.num_actions, env.num_seats))
            assert step.rewards.shape[0] == 6
            episodes += step.episodes
        env.close()
        assert len(episodes) == 2 and all(e["steps"] == 5 for e in episodes), backend


@pytest.mark.parametrize("name, text, message", [
    ("x", 'description = "x"\n[defaults\n', "not valid TOML"),
    ("x", 'description = "x"\nlevel = "my_lua"\n', 'unknown key level = "my_lua"; allowed: description'),
    ("x", 'notes = "no description"\n', "description = (missing)"),
    ("x", 'description = "x"\ndefaults = 3\n', "must be a table"),
    ("x", 'description = "x"\n[defaults]\nregrowht = 0.25\n',
     "[defaults] regrowht = 0.25: unknown parameter 'regrowht' (did you mean regrowth?); allowed:"),
    ("x", 'description = "x"\n[fixed]\nno_zap = "yes"\n', 'no_zap = "yes": no_zap must be true or false'),
    ("x", 'description = "x"\n[defaults]\nzap_cooldown = 2.5\n', "expected an integer"),
    ("x", 'description = "x"\n[defaults]\nregrowth = 0\n', "regrowth=0.0: must be a finite number > 0"),
    ("x", 'description = "x"\n[defaults]\nregrowth = 2\n[fixed]\nregrowth = 3\n', "in both"),
    ("x", 'description = "x"\n[defaults]\nzap_cooldown = 5\n[fixed]\nno_zap = true\n', "cannot combine"),
    ("x", 'description = "x"\n[fixed]\nmap = "private_property"\nplayers = 20\n', "between 1 and 16"),
    ("clean_up", 'description = "x"\n', "is a Melting Pot substrate's"),
    ("farmer", 'description = "x"\n', "already defined by"),
    ("Harsh-Scarcity", 'description = "x"\n', "file name 'Harsh-Scarcity'"),
])
def test_a_bad_file_is_one_line_naming_it(user_folder, name, text, message):
    path = user_folder / f"{name}.toml"
    path.write_text(text)
    with pytest.raises(BadInput) as err:
        substrates.names()
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"{path}: ") and message in line, line


def test_a_bad_file_stops_the_cli_with_one_line(user_folder):
    (user_folder / "x.toml").write_text('description = "x"\n[defaults]\nregrowth = "lots"\n')
    result = invoke("substrates", "run", "open", "--max-episode-steps", "5")
    assert result.exit_code == 2
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 and 'x.toml: [defaults] regrowth = "lots"' in lines[0], result.output


def test_a_missing_folder_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv(variant_files.ENV, str(tmp_path / "nowhere"))
    substrates.reload()
    try:
        with pytest.raises(BadInput, match="POPBASED_SUBSTRATES: .*nowhere' is not a folder"):
            substrates.names()
    finally:
        monkeypatch.delenv(variant_files.ENV)
        substrates.reload()


def test_the_repositorys_files_are_found_and_valid(monkeypatch):
    monkeypatch.delenv(variant_files.ENV, raising=False)
    assert variant_files.FOLDER == ROOT / "substrates"
    shipped = variant_files.read_all()
    assert set(shipped) == {"open", "no_zap", "farmer", "scarcity", "abundance", "private_property",
                            "zap_cooldown"}
