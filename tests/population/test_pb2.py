"""PB2's explore (popbased.population.pb2, `[pbt] explore = "pb2"`): the training intervals
read from a hand-written lineage, a proposal that follows where fitness rose, within bounds and
seeded, the Gaussian fallback before enough is known, and the file checks."""

import numpy as np
import pytest

from popbased.errors import BadInput
from popbased.population import pb2
from popbased.population.explore import normalize
from popbased.population.lineage import LineageEvent, LineageLog, replay
from popbased.population.pbt import step
from popbased.population.spec import Gene

from conftest import make_members, tiny_spec, tracker_with

X_GENE = Gene("shaping.x", init=(0.0, 1.0), bounds=(0.0, 1.0))


def test_intervals_are_read_from_the_lineage_as_hand_computed():
    events = [
        LineageEvent("a", 0, 0, "init", {"shaping.x": 0.2}),
        LineageEvent("b", 0, 0, "init", {"shaping.x": 0.8}),
        # first step: no fitness at the intervals' starts (the initial draw), so no rows yet
        LineageEvent("a", 1, 100, "keep", {"shaping.x": 0.2}, fitness=3.0),
        LineageEvent("b", 1, 100, "exploit", {"shaping.x": 0.2}, donor="a", fitness=1.0, donor_fitness=3.0),
        LineageEvent("b", 1, 100, "explore", {"shaping.x": 0.25}, fitness=1.0),
        # second step: a kept x = 0.2 from fitness 3 to 5; b trained x = 0.25 from a's 3 to 4
        LineageEvent("a", 2, 300, "keep", {"shaping.x": 0.2}, fitness=5.0),
        LineageEvent("b", 2, 300, "keep", {"shaping.x": 0.25}, fitness=4.0),
    ]
    X, y = pb2.intervals(events, [X_GENE])
    np.testing.assert_allclose(X, [[300, 3.0, 0.2], [300, 3.0, 0.25]])
    np.testing.assert_allclose(y, [2.0 / 200, 1.0 / 200])


def _history(values_and_gains, step_size=1000):
    """A lineage of members that each kept one x for two steps and gained fitness by `gain`."""
    events = []
    for i, (x, gain) in enumerate(values_and_gains):
        m = f"m{i}"
        events += [LineageEvent(m, 0, 0, "init", {"shaping.x": x}),
                   LineageEvent(m, 1, step_size, "keep", {"shaping.x": x}, fitness=10.0),
                   LineageEvent(m, 2, 2 * step_size, "keep", {"shaping.x": x}, fitness=10.0 + gain)]
    return events


@pytest.mark.parametrize("noise", [0.0, 3.0])
def test_the_proposal_follows_where_fitness_rose_within_bounds_and_seeded(noise):
    # Ray's PB2 GP, which has no noise term, fits this at its length-scale bound and proposes
    # its first random start (0.549 here): the learned noise level is what finds the peak
    xs = np.linspace(0.0, 1.0, 12)
    jitter = np.random.default_rng(0).normal(size=len(xs)) * noise
    history = _history([(x, 10.0 - 20.0 * (x - 0.8) ** 2 + j) for x, j in zip(xs, jitter)])
    proposals = [pb2.propose([X_GENE], {"shaping.x": 0.1}, history, now=2000, donor_fitness=15.0,
                             others=[{"shaping.x": 0.1}], seed=s) for s in range(3)]
    for proposal in proposals:
        assert 0.0 <= proposal["shaping.x"] <= 1.0
        assert 0.55 <= proposal["shaping.x"] <= 1.0, proposal  # near the gain's peak, 0.8
    again = pb2.propose([X_GENE], {"shaping.x": 0.1}, history, now=2000, donor_fitness=15.0,
                        others=[{"shaping.x": 0.1}], seed=0)
    assert again == proposals[0]
    state = np.random.get_state()[1].copy()
    pb2.propose([X_GENE], {"shaping.x": 0.1}, history, now=2000, donor_fitness=15.0, others=[], seed=1)
    assert (np.random.get_state()[1] == state).all()  # NumPy's global generator left as it was


def test_the_proposal_stays_within_the_radius_of_the_donors_genes():
    xs = np.linspace(0.0, 1.0, 12)
    history = _history([(x, 10.0 - 20.0 * (x - 0.8) ** 2) for x in xs])
    proposal = pb2.propose([X_GENE], {"shaping.x": 0.1}, history, now=2000, donor_fitness=15.0,
                           others=[], seed=0, radius=0.2)
    assert 0.1 < proposal["shaping.x"] <= 0.3 + 1e-9  # towards the peak, as far as it may go


def test_too_little_history_proposes_nothing():
    history = _history([(0.1, 1.0), (0.5, 2.0), (0.9, 0.0)])  # 3 intervals < MIN_INTERVALS
    assert pb2.propose([X_GENE], {"shaping.x": 0.5}, history, now=2000, donor_fitness=12.0,
                       others=[], seed=0) is None


def test_a_pbt_step_with_pb2_explores_by_the_gp_once_it_knows_enough():
    spec = tiny_spec(explore="pb2", confidence=0.0)
    members = make_members(spec)
    rng = np.random.default_rng(4)
    samples = {"m0": [0.0] * 9, "m1": [20.0 + i for i in range(9)], "m2": [40.0 + i for i in range(9)]}
    log = LineageLog()
    for m, member in members.items():
        log.append(LineageEvent(m, 0, 0, "init", dict(member.values)))
    hows = []
    for generation in range(4):
        for member in members.values():
            member.learner.agent_steps += 600
        events = step(spec, members, tracker_with(samples), list(members), rng, history=log.events)
        for event in events:
            log.append(event)
        explored = [e for e in events if e.kind == "explore"]
        assert explored, generation
        hows.append({how for e in explored for _, _, how in e.changes.values()})
        if generation == 0:
            assert "gaussian: PB2 needs" in explored[0].reason
    assert any("pb2(gp-ucb)" in h for h in hows[2:]), hows  # the GP took over
    for m, member in members.items():
        for gene in spec.all_genes():
            if gene.bounds:
                assert gene.bounds[0] <= member.values[gene.name] <= gene.bounds[1]
        assert replay(log.events, m) == member.values


@pytest.mark.parametrize("pbt, message", [
    ({"explore": "bandit"}, "explore='bandit'; allowed: gaussian, pb2"),
    ({"explore": "pb2", "fitness": "pareto"}, "explore='pb2' needs a fitness that is a number"),
    ({"explore": "pb2", "crossover": True}, "crossover = true is allowed with explore = \"gaussian\""),
    ({"explore": "pb2", "pb2_radius": 0.0}, "pb2_radius=0.0: must be in (0, 1]"),
])
def test_bad_explore_settings_are_one_line(pbt, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace("[", r"\[")) as err:
        tiny_spec(**pbt)
    assert "\n" not in str(err.value)


def test_normalised_axis_is_the_genes_own():
    gene = Gene("lr", init=(1e-4, 1e-3), bounds=(1e-5, 1e-2), scale="log")
    X, _ = pb2.intervals([LineageEvent("a", 0, 0, "init", {"lr": 1e-4}),
                          LineageEvent("a", 1, 10, "keep", {"lr": 1e-4}, fitness=1.0),
                          LineageEvent("a", 2, 20, "keep", {"lr": 1e-4}, fitness=2.0)], [gene])
    assert X[0, 2] == pytest.approx(normalize(gene, 1e-4)) == pytest.approx(1 / 3)
