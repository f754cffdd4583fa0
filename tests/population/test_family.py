"""The family tree of a run's members (popbased.population.family) follows the copies."""

from popbased.population import family

from conftest import write_lineage_run


def test_family_tree_follows_the_copies(tmp_path):
    log = write_lineage_run(tmp_path)
    roots, current = family.build(log.events)
    a0, a1, b0, b1 = roots
    assert (a0.ended, a1.ended, b0.alive, b1.alive) == (2, 1, True, True)
    child = a0.children[0]  # a/m1's line from generation 1, copied from a/m0's first line
    assert child.member == "a/m1" and child.born == 1 and child.alive
    assert current["a/m1"] is child and current["a/m0"] is child.children[0]
    assert current["a/m0"].parent is child and current["a/m0"].born == 2
    assert a0.surviving() and not a1.surviving()  # a/m1's own first line left no descendants
