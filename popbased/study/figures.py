"""The study report's own figures: training curves on the fast env (per-capita return and
depletion against agent-steps, every run) and how PBT moved the shaping weights."""

from __future__ import annotations

from pathlib import Path

from popbased import textio
from popbased.study.plan import StudyPlan
from popbased.study.steps import run_folder


def training_curve(plan: StudyPlan, out: Path) -> dict[str, list[tuple[int, float, float]]]:
    """run -> [(agent-steps of the run, per-capita return, depleted share)] per logged round
    (the progress window's means over the last episodes, on the fast env)."""
    curves = {}
    for run in plan.runs:
        folder = run_folder(out, run.name)
        rows = textio.read(folder / ("rounds.jsonl" if run.kind == "pbt" else "metrics.jsonl"))
        points = [(int(r["agent_steps"]), float(r["metrics"]["per_capita_return"]),
                   float(r["metrics"].get("depleted_fraction", float("nan"))))
                  for r in rows if r.get("metrics", {}).get("per_capita_return") is not None]
        if points:
            curves[run.name] = points
    return curves


def shaping_paths(plan: StudyPlan, out: Path) -> dict[str, dict[str, dict[str, list[float]]]]:
    """population -> gene -> member -> its trained value per generation (generations.jsonl)."""
    paths: dict[str, dict[str, dict[str, list[float]]]] = {}
    for run in plan.runs:
        if run.kind != "pbt":
            continue
        genes: dict[str, dict[str, list[float]]] = {}
        for row in textio.read(run_folder(out, run.name) / "generations.jsonl"):
            for member, info in row.get("members", {}).items():
                for gene, value in (info.get("trained_values") or info.get("values") or {}).items():
                    if gene.startswith("shaping.") and gene != "shaping.reward":
                        genes.setdefault(gene[8:], {}).setdefault(member, []).append(float(value))
        if genes:
            paths[run.name] = genes
    return paths


def plot_training(curves, path: Path) -> Path | None:
    if not curves:
        return None
    import matplotlib  # deferred: heavy, only to draw

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2))
    for name, points in curves.items():
        x = [p[0] / 1e6 for p in points]
        a.plot(x, [p[1] for p in points], label=name)
        b.plot(x, [p[2] for p in points], label=name)
    a.axhline(33.0, color="grey", linestyle=":", label="random play (Melting Pot)")
    a.set(xlabel="agent-steps of the run (millions)", ylabel="per-capita return (last episodes)",
          title="Training on the fast env")
    b.set(xlabel="agent-steps of the run (millions)", ylabel="share of episodes fully depleted",
          title="Depletion while training", ylim=(-0.05, 1.05))
    a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_shaping(paths, path: Path) -> Path | None:
    if not paths:
        return None
    import matplotlib  # deferred: heavy, only to draw

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    genes = sorted({g for p in paths.values() for g in p})
    fig, axes = plt.subplots(len(paths), len(genes), figsize=(3.2 * len(genes), 2.6 * len(paths)),
                             squeeze=False)
    for i, (pop, by_gene) in enumerate(paths.items()):
        for j, gene in enumerate(genes):
            ax = axes[i][j]
            for member, values in by_gene.get(gene, {}).items():
                ax.plot(range(1, len(values) + 1), values, marker=".", label=member)
            if gene not in by_gene:
                ax.text(0.5, 0.5, "not a gene here", ha="center", va="center",
                        transform=ax.transAxes, color="grey")
            ax.set_title(f"{pop}: {gene}", fontsize=9)
            ax.set_xlabel("generation", fontsize=8)
            if ax.get_legend_handles_labels()[0] and j == 0:
                ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def champion_lineage(plan: StudyPlan, out: Path) -> dict[str, dict]:
    """population -> {champion, final shaping, events}: the champion's own lineage events
    that moved its shaping weights (copies from a donor, then mutations), oldest first."""
    result = {}
    for run in plan.runs:
        if run.kind != "pbt":
            continue
        folder = run_folder(out, run.name)
        generations = textio.read(folder / "generations.jsonl")
        if not generations or not generations[-1].get("best"):
            continue
        best = generations[-1]["best"]
        final = generations[-1]["members"][best].get("trained_values", {})
        events = []
        for row in textio.read(folder / "lineage.jsonl"):
            if row.get("member") != best or row.get("kind") not in ("init", "exploit", "adopt", "explore"):
                continue
            moved = {k[8:]: v for k, v in (row.get("changes") or {}).items()
                     if k.startswith("shaping.")}
            if row["kind"] == "init":
                moved = {k[8:]: [None, v, "initial"] for k, v in row.get("values", {}).items()
                         if k.startswith("shaping.") and k != "shaping.reward"}
            events.append({"generation": row["generation"], "kind": row["kind"],
                           "donor": row.get("donor"), "reason": row.get("reason", ""),
                           "shaping": moved})
        result[run.name] = {"champion": best, "events": events,
                            "final": {k[8:]: v for k, v in final.items()
                                      if k.startswith("shaping.") and k != "shaping.reward"},
                            "fitness": generations[-1]["members"][best].get("fitness")}
    return result
