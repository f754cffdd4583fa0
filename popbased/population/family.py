"""The family tree of a PBT run or a league, rebuilt from its lineage events.

A node is one line of weights: a member slot from the generation its weights started (its
`init`, or an `exploit` that copied a donor) until it is replaced. An exploit makes the
new node a child of the donor's node at that moment. Nodes still in use at the end are the
surviving lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from popbased.population.lineage import LineageEvent


@dataclass
class Node:
    member: str
    born: int
    """Generation the line started."""
    parent: "Node | None" = None
    children: list["Node"] = field(default_factory=list)
    ended: int | None = None
    """Generation it was replaced (None: alive)."""
    fitness: float | None = None
    """Its last recorded fitness."""

    @property
    def alive(self) -> bool:
        return self.ended is None

    def surviving(self) -> bool:
        """Alive, or an ancestor of a line that is."""
        return self.alive or any(c.surviving() for c in self.children)


def build(events: Iterable[LineageEvent]) -> tuple[list[Node], dict[str, Node]]:
    """(root nodes in order of appearance, member -> its current node)."""
    roots: list[Node] = []
    current: dict[str, Node] = {}
    for e in events:
        if e.kind == "init":
            node = Node(e.member, e.generation)
            roots.append(node)
            current[e.member] = node
        elif e.kind == "exploit":
            donor = current[e.donor]
            old = current[e.member]
            old.ended = e.generation
            old.fitness = e.fitness if e.fitness is not None else old.fitness
            node = Node(e.member, e.generation, parent=donor)
            donor.children.append(node)
            current[e.member] = node
        elif e.kind in ("keep", "adopt") and e.fitness is not None:  # adopt: its weights go on
            current[e.member].fitness = e.fitness
    return roots, current
