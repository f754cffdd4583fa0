"""popbased.provenance: the commit of the checkout that runs popbased (and whether popbased/
has changes not committed), None outside a git checkout; the label an experiment's report
gives it."""

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
    provenance.code.cache_clear()
    try:
        assert provenance.code() == {"commit": None, "changed": None}
    finally:
        provenance.code.cache_clear()
