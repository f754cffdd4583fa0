"""populations/social.toml: the social-preference weights (inequity aversion's alpha and
beta, the SVO weight) as shaping genes: the file loads and validates against the engines'
components, members draw them within their initial ranges and train with them, explore
keeps them within bounds; without social=true they are refused, saying so."""

import numpy as np
import pytest

from popbased.env.social import SOCIAL_COMPONENTS
from popbased.errors import BadInput
from popbased.population.explore import explore
from popbased.population.member import initial_members
from popbased.population.run import train_config
from popbased.population.spec import load
from popbased.ppo.config import NetConfig
from popbased.selfplay import validate

from conftest import ACTIONS, ROOT

SOCIAL = ROOT / "populations" / "social.toml"


def test_social_population_loads_with_its_genes_and_parameters():
    spec = load(SOCIAL)
    genes = {g.name: g for g in spec.shaping}
    assert set(SOCIAL_COMPONENTS) <= set(genes) and "last_apples" not in genes
    assert genes["disadvantageous_inequity"].bounds == (-5.0, 0.0)
    assert spec.params["social"] is True and spec.params["svo_angle"] == 45.0
    for engine in ("fast", "meltingpot"):  # both engines give every component it weighs
        _, _, weights = validate(train_config(spec, 1, env=engine))
        assert weights == {"reward": 1.0}  # the genes come on top, per member


def test_members_draw_the_social_genes_and_train_with_them():
    spec = load(SOCIAL)
    members = initial_members(spec, ACTIONS, {"reward": 1.0}, obs_size=11, net=NetConfig(),
                              device="cpu", rng=np.random.default_rng(0), seed=0)
    seen = set()
    for member in members.values():
        weights = member.learner.shaping
        for gene in spec.shaping:
            low, high = gene.init
            value = member.values[f"shaping.{gene.name}"]
            assert low <= value <= high and weights[gene.name] == value
        seen.add(member.values["shaping.disadvantageous_inequity"])
    assert len(seen) == spec.size  # drawn, not one value for all


def test_explore_keeps_the_social_genes_in_bounds():
    spec = load(SOCIAL)
    genes = spec.all_genes()
    rng = np.random.default_rng(1)
    moved = set()
    social = {f"shaping.{name}" for name in SOCIAL_COMPONENTS}
    for seed in range(200):
        values = {g.name: rng.uniform(*(g.bounds or g.init)) for g in genes}
        for gene in genes:  # start some on their bounds
            if gene.name in social and seed % 3 == 0:
                values[gene.name] = gene.bounds[seed % 2]
        new, changes = explore(genes, values, seed=seed, stdev=2.0 if seed % 2 else 0.2,
                               resample_probability=0.25)
        for gene in genes:
            if gene.bounds is not None:
                assert gene.bounds[0] <= new[gene.name] <= gene.bounds[1], (gene.name, new[gene.name])
        moved |= set(changes) & social
    assert moved == social


def test_social_genes_need_social_true(tmp_path):
    text = SOCIAL.read_text().replace("social = true, inequity_decay = 0.975, svo_angle = 45.0", "")
    path = tmp_path / "plain.toml"
    path.write_text(text)
    with pytest.raises(BadInput, match="add social = true"):
        load(path)
    path.write_text(text.replace("params = {  }", 'params = { inequity_decay = 0.9 }'))
    with pytest.raises(BadInput, match="add social=true"):
        load(path)


def test_a_league_plays_the_social_population_in_a_social_arena(tmp_path):
    from popbased.league.spec import load as load_league

    from conftest import league_text, write_league

    text = league_text(("social", "open"))
    with pytest.raises(BadInput, match="social=true"):  # the stock arena lacks the components
        load_league(write_league(tmp_path, text))
    arena = 'arena_params = { social = true, svo_angle = 30 }\n'
    league = load_league(write_league(tmp_path, text.replace("size = 2\n", "size = 2\n" + arena)))
    assert league.arena_params == {"social": True, "svo_angle": 30}
