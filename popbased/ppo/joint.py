"""The PPO updates of several members as one: a stacked forward and backward per step.

    stats = update_all(learners, batches)        # {member: stats}, as Learner.update gives

A league or population trains many members of one architecture, each on the few seats it
played (about 1,000 agent-steps a round in the demo league): one small update after another
costs more per sample than one member's large one (per-step overhead, small matmuls).
Here, members that can share a pass (one architecture and action set, one device, no LSTM,
the same kinds of loss options) take their optimizer steps together: step k stacks each
member's k-th minibatch (padded to the widest; padding is left out of every mean), runs one
forward and backward through `popbased.ppo.stacked.forward`, and applies each member's own
clipping and Adam step with its own hyperparameters. The members' other parts stay their
own: the learner's shaping, GAE, minibatch draws (its generator, the same order as
`Learner.update`), lr schedule, non-finite containment (a member whose loss or gradient is
not finite abandons the rest of its update alone) and optimizer state (read before, written
back after, so checkpoints and PBT copies see the usual torch Adam state).

The result equals each member's own `Learner.update` to float rounding (the matmuls sum in
another order): tests/ppo/test_joint.py states the tolerance.
"""

from __future__ import annotations

import math
from typing import Mapping

import torch

from popbased.ppo.batch import Batch
from popbased.ppo.learner import Learner, add_step
from popbased.ppo.loss import ppo_loss
from popbased.ppo.policy import entropy, masked_log_softmax
from popbased.ppo.stacked import forward, signature

FIELDS = ("obs", "actions", "logp", "values", "masks", "adv", "ret")


def key(learner: Learner):
    """Learners with equal keys can update together (None: never with others)."""
    if learner.policy.recurrent:
        return None
    return (signature(learner.policy), str(learner.device), learner.config.vf_clip is None,
            learner.config.norm_adv)


def update_all(learners: Mapping[str, Learner], batches: Mapping[str, Batch],
               joint: bool = True) -> dict[str, dict[str, float]]:
    """Each member's update on its batch; jointly where they can share passes (`joint`)."""
    groups: dict = {}
    for m in batches:
        k = key(learners[m]) if joint else None
        groups.setdefault(k if k is not None else ("alone", m), []).append(m)
    stats = {}
    for members in groups.values():
        if len(members) == 1:
            stats[members[0]] = learners[members[0]].update(batches[members[0]])
        else:
            stats.update(joint_update({m: learners[m] for m in members},
                                      {m: batches[m] for m in members}))
    return stats


def joint_update(learners: Mapping[str, Learner], batches: Mapping[str, Batch]
                 ) -> dict[str, dict[str, float]]:
    """The members' updates together (see the module docstring); {member: stats}."""
    stats: dict[str, dict[str, float]] = {}
    ready = []
    for m, learner in learners.items():
        prepared = learner.prepare(batches[m])
        if isinstance(prepared, dict):
            stats[m] = prepared
        else:
            ready.append((m, learner, prepared, learner.schedule(batches[m])))
    if len(ready) == 1:  # nobody to share with: the learner's own loop
        m, learner, prepared, schedule = ready[0]
        stats[m] = learner.run(prepared, schedule)
    elif ready:
        stats.update(_together(ready))
    return stats


class _Stack:
    """The members' parameters and Adam state, stacked [M, ...] (one leaf per parameter)."""

    def __init__(self, learners: list[Learner]):
        first = learners[0].policy
        self.names = [n for n, _ in first.named_parameters()]
        self.net = first.net
        self.params = {n: torch.stack([l.policy.get_parameter(n).detach() for l in learners])
                       .requires_grad_() for n in self.names}
        self.exp_avg, self.exp_avg_sq = {}, {}
        self.steps = []
        for n in self.names:
            avg, sq = [], []
            for l in learners:
                p = l.policy.get_parameter(n)
                state = l.optimizer.state.get(p, {})
                avg.append(state["exp_avg"] if "exp_avg" in state else torch.zeros_like(p))
                sq.append(state["exp_avg_sq"] if "exp_avg_sq" in state else torch.zeros_like(p))
            self.exp_avg[n], self.exp_avg_sq[n] = torch.stack(avg), torch.stack(sq)
        for l in learners:
            state = l.optimizer.state.get(next(l.policy.parameters()), {})
            self.steps.append(float(state["step"]) if "step" in state else 0.0)
        groups = [l.optimizer.param_groups[0] for l in learners]
        self.lr = [g["lr"] for g in groups]
        self.betas = [g["betas"] for g in groups]
        self.eps = [g["eps"] for g in groups]

    def write_back(self, i: int, learner: Learner) -> None:
        """Member i's parameters and Adam state into its own policy and optimizer."""
        group = learner.optimizer.param_groups[0]
        on_device = group.get("fused") or group.get("capturable")  # torch keeps step there
        for n in self.names:
            p = learner.policy.get_parameter(n)
            with torch.no_grad():
                p.copy_(self.params[n][i])
            step = torch.tensor(self.steps[i], dtype=torch.float32,
                                device=p.device if on_device else "cpu")
            learner.optimizer.state[p] = {"step": step,
                                          "exp_avg": self.exp_avg[n][i].clone(),
                                          "exp_avg_sq": self.exp_avg_sq[n][i].clone()}

    @torch.no_grad()
    def adam(self, rows: list[int], coef: torch.Tensor) -> None:
        """One Adam step (torch's formula) for members `rows`, their gradients scaled by coef."""
        index = _on(rows, coef.device)
        for i in rows:
            self.steps[i] += 1
        factors = []
        for i in rows:
            beta1, beta2 = self.betas[i]
            factors.append((self.lr[i] / (1 - beta1 ** self.steps[i]),
                            math.sqrt(1 - beta2 ** self.steps[i]), self.eps[i], beta1, beta2))
        f = _on(factors, coef.device, coef.dtype)  # [R, 5]
        for n in self.names:
            param = self.params[n]
            shape = (len(rows),) + (1,) * (param.dim() - 1)
            grad = param.grad[index] * coef.view(shape)
            beta1, beta2 = f[:, 3].view(shape), f[:, 4].view(shape)
            avg = self.exp_avg[n][index].lerp_(grad, 1 - beta1)
            sq = self.exp_avg_sq[n][index].mul_(beta2).addcmul_(grad * (1 - beta2), grad)
            denom = (sq.sqrt() / f[:, 1].view(shape)).add_(f[:, 2].view(shape))
            self.exp_avg[n][index] = avg
            self.exp_avg_sq[n][index] = sq
            param.data[index] = param.data[index] - f[:, 0].view(shape) * avg / denom


def _together(ready: list) -> dict[str, dict[str, float]]:
    members = [r[0] for r in ready]
    learners = [r[1] for r in ready]
    tensors = [r[2][0] for r in ready]
    schedules = [r[3] for r in ready]
    stack = _Stack(learners)
    device = learners[0].device
    flat = []
    for t in tensors:
        steps, seats = t["actions"].shape
        flat.append({k: t[k].reshape((steps * seats,) + t[k].shape[2:]) for k in FIELDS})

    def per_member(name: str, rows: list[int]) -> torch.Tensor:
        return _on([getattr(learners[i].config, name) for i in rows], device)

    # every member's minibatches on the device at once (not one blocking copy per step)
    schedules = [list(torch.cat(s).to(device, non_blocking=True).split([len(i) for i in s]))
                 for s in schedules]

    alive = [True] * len(ready)
    sums: list[dict[str, torch.Tensor]] = [{} for _ in ready]
    counts = [0] * len(ready)
    out: dict[str, dict[str, float]] = {}
    for k in range(max(len(s) for s in schedules)):
        rows = [i for i in range(len(ready)) if alive[i] and k < len(schedules[i])]
        if not rows:
            break
        width = max(len(schedules[i][k]) for i in rows)
        valid = torch.zeros(len(rows), width, dtype=torch.bool, device=device)
        parts_in = {f: [] for f in FIELDS}
        for r, i in enumerate(rows):
            index = schedules[i][k]
            valid[r, :len(index)] = True
            index = torch.cat([index, index[:1].expand(width - len(index))])
            for f in FIELDS:
                parts_in[f].append(flat[i][f][index])
        batch = {f: torch.stack(v) for f, v in parts_in.items()}
        select = _on(rows, device)
        params = (stack.params if len(rows) == len(ready)
                  else {n: p[select] for n, p in stack.params.items()})
        logits, values, _ = forward(stack.net, params, batch["obs"])
        logp_all = masked_log_softmax(logits, batch["masks"])
        new_logp = logp_all.gather(-1, batch["actions"].unsqueeze(-1)).squeeze(-1)
        cfg = lambda name: per_member(name, rows)  # noqa: E731
        vf_clip = None if learners[rows[0]].config.vf_clip is None else cfg("vf_clip")
        parts = ppo_loss(new_logp, batch["logp"], batch["adv"], values, batch["values"],
                         batch["ret"], entropy(logp_all), clip=cfg("clip"), vf_coef=cfg("vf_coef"),
                         ent_coef=cfg("ent_coef"), vf_clip=vf_clip,
                         norm_adv=learners[rows[0]].config.norm_adv, valid=valid)
        finite = torch.isfinite(parts.total)
        for n in stack.names:
            stack.params[n].grad = None
        # the finite members' losses (a member's gradient is its own rows': the stacked pass
        # never mixes members, so a non-finite member's NaN gradients stay in its rows)
        torch.where(finite, parts.total, 0.0).sum().backward()
        per_param = [torch.linalg.vector_norm(stack.params[n].grad[select].flatten(1), dim=1)
                     for n in stack.names]
        norms = torch.linalg.vector_norm(torch.stack(per_param), dim=0)
        ok = finite & torch.isfinite(norms)
        # the step's one host read: who steps and who abandons (the rows of the next step's
        # stack depend on it)
        finite_rows, ok_rows = torch.stack([finite, ok]).tolist()
        stepping = []
        for r, i in enumerate(rows):
            if not finite_rows[r]:
                reason = "non-finite loss"
            elif not ok_rows[r]:
                reason = "non-finite gradient"
            else:
                stepping.append(r)
                continue
            alive[i] = False
            if counts[i]:
                stack.write_back(i, learners[i])
            out[members[i]] = learners[i].abandon(reason, counts[i])
        if stepping:
            norm = norms[_on(stepping, device)] if len(stepping) < len(rows) else norms
            coef = (per_member("max_grad_norm", [rows[r] for r in stepping]) / (norm + 1e-6)
                    ).clamp(max=1.0)
            stack.adam([rows[r] for r in stepping], coef)
            for r in stepping:
                i = rows[r]
                add_step(sums[i], _row(parts, r), norms[r])
                counts[i] += 1
    for i, learner in enumerate(learners):
        if alive[i]:
            stack.write_back(i, learner)
            t, rewards, lr = ready[i][2]
            out[members[i]] = learner.finish(t, rewards, lr, sums[i], counts[i])
    return out


def _on(values: list, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Host numbers as a tensor on `device`, copied without waiting for the device's queue
    (torch.tensor(..., device=cuda) copies and then synchronises)."""
    return torch.tensor(values, dtype=dtype).to(device, non_blocking=True)


def _row(parts, r: int):
    """Member r's loss parts (scalars) out of the stacked ones."""
    return type(parts)(**{f: getattr(parts, f)[r] for f in
                          ("total", "policy", "value", "entropy", "approx_kl", "clipfrac")})
