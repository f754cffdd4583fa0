"""popbased.provenance: the commit of the checkout that runs popbased (and whether popbased/
has changes not committed), None outside a git checkout; a step launched with one version and
finished under another counts as changed; the label an experiment's report gives it."""

import subprocess

from conftest import ROOT
from popbased import provenance


def test_the_checkouts_commit_and_its_label():
    made = provenance.code()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode:  # not a git checkout (an unpacked archive): nothing claimed
        assert made == {"commit": None, "changed": None}
    else:
        assert made["commit"] == head.stdout.strip() and isinstance(made["changed"], bool)
    assert provenance.label({"commit": "0123456789abcdef", "changed": False}) == "0123456"
    assert provenance.label({"commit": "0123456789abcdef", "changed": True}) == "0123456+changes"
    assert provenance.label(None) == provenance.label({"commit": None}) == "not recorded"


def test_outside_a_git_checkout_nothing_is_claimed(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "PACKAGE", tmp_path / "popbased")
    assert provenance.code() == {"commit": None, "changed": None}


def test_a_step_counts_as_changed_when_the_checkout_moved_while_it_ran(monkeypatch):
    launched = {"commit": "a" * 40, "changed": False}
    monkeypatch.setattr(provenance, "code", lambda: dict(launched))
    assert provenance.during(launched) == launched  # the same code from launch to finish
    monkeypatch.setattr(provenance, "code", lambda: {"commit": "b" * 40, "changed": False})
    assert provenance.during(launched) == {"commit": "a" * 40, "changed": True}  # a commit meanwhile
    assert provenance.during(None) == {"commit": "b" * 40, "changed": False}  # launch unknown: now
