"""A picture of a run's lineage: generations across, member slots down, one dot per member
and generation coloured by its fitness, and a line from whoever its weights came from
(itself, or the donor it copied at that generation)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from popbased.population.lineage import LineageEvent


def points(events: Iterable[LineageEvent]):
    """(members in order, {(member, generation): fitness or None}, [(src, g, dst, g + 1, copied)]).

    A dot (m, g) is member m's weights during generation g (0: as initialised); its colour is
    the fitness they earned in it. The PBT step at the end of g decides where the weights
    of generation g + 1 come from: the member itself (kept) or a donor (copied)."""
    members: list[str] = []
    fitness: dict[tuple[str, int], float | None] = {}
    edges: list[tuple[str, int, str, int, bool]] = []
    for e in events:
        if e.kind == "init":
            members.append(e.member)
            fitness[(e.member, 0)] = None
            edges.append((e.member, 0, e.member, 1, False))
            fitness.setdefault((e.member, 1), None)
        elif e.kind in ("keep", "exploit", "adopt"):  # adopt: the donor's genes, its own weights
            fitness[(e.member, e.generation)] = e.fitness
            source = e.donor if e.kind == "exploit" else e.member
            edges.append((source, e.generation, e.member, e.generation + 1, e.kind == "exploit"))
            fitness.setdefault((e.member, e.generation + 1), None)
    return members, fitness, edges


def draw(events: Iterable[LineageEvent], path: str | Path, title: str) -> Path:
    import matplotlib  # deferred: heavy, only to draw (`points` needs none)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    members, fitness, edges = points(list(events))
    row = {m: i for i, m in enumerate(members)}
    generations = max((g for _, g in fitness), default=0)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * generations + 3), max(3.0, 0.45 * len(members) + 1.5)))
    for src, g0, dst, g1, copied in edges:
        ax.plot([g0, g1], [row[src], row[dst]], color="#d55e00" if copied else "#999999",
                lw=2.0 if copied else 1.0, zorder=1)
    known = [(m, g, f) for (m, g), f in fitness.items() if f is not None]
    unknown = [(m, g) for (m, g), f in fitness.items() if f is None]
    if unknown:
        ax.scatter([g for _, g in unknown], [row[m] for m, _ in unknown], s=50, facecolors="white",
                   edgecolors="#555555", zorder=2, label="initial / current weights")
    if known:
        dots = ax.scatter([g for _, g, _ in known], [row[m] for m, _, _ in known],
                          c=[f for _, _, f in known], cmap="viridis", s=70, zorder=3,
                          edgecolors="black", linewidths=0.5)
        fig.colorbar(dots, ax=ax, label="fitness earned in the generation")
    ax.plot([], [], color="#d55e00", lw=2, label="copied (exploit)")
    ax.plot([], [], color="#999999", lw=1, label="kept")
    ax.set_yticks(range(len(members)), members)
    ax.invert_yaxis()
    ax.set_xticks(range(generations + 1))
    ax.set_xlabel("generation (0 = initialised)")
    ax.set_ylabel("member")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.25, 1.0), fontsize="small", frameon=False)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
