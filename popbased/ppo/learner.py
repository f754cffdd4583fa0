"""The PPO learner of one member: its policy, optimizer, hyperparameters and shaping weights.

`update(batch)` turns the unshaped reward components into the member's training reward,
computes GAE and runs clipped PPO for `epochs` over minibatches (whole BPTT sequences when
the LSTM is on). A non-finite input, loss or gradient never reaches the weights: that
optimizer step is skipped, the rest of the update is abandoned, and the member is flagged.
"""

from __future__ import annotations

import math
import secrets
from typing import Any, Mapping

import numpy as np
import torch

from popbased.devices import exact_float32
from popbased.errors import BadInput
from popbased.ppo import shaping
from popbased.ppo.batch import Batch
from popbased.ppo.config import NetConfig, PPOConfig, to_dict
from popbased.ppo.gae import gae
from popbased.ppo.loss import ppo_loss
from popbased.ppo.policy import Policy, entropy, masked_log_softmax


def resolve_device(device: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cuda' without a GPU is a clear error.

    Resolving to CUDA also turns TF32 off for the process (popbased.devices.exact_float32):
    Hopper's cuDNN convolutions default to TF32, which would break the bit-level agreement
    between the collector's and the learner's passes (the stacked and joint tests' 1e-5
    tolerances, PPO's first ratio of exactly 1). Every CUDA learner, device collector and
    FastShard resolves its device here, so this is the one place that decides it."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BadInput(f"--device {device}: this torch ({torch.__version__}) sees no CUDA GPU; "
                           "use --device cpu or auto")
        exact_float32()
        return torch.device(device)
    raise BadInput(f"--device {device!r}: allowed are auto, cpu, cuda, cuda:N")


STEP_STATS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac", "grad_norm")
"""The per-optimizer-step statistics an update averages (in this order)."""

FAILURES = ("", "non-finite loss", "non-finite gradient")
"""Why an update was abandoned, by the code `Learner.run` keeps on the device."""


def step_values(parts, grad_norm: torch.Tensor) -> torch.Tensor:
    """One optimizer step's loss parts and gradient norm as a float64 vector on their device
    (STEP_STATS' order): summed there, read once per update."""
    return torch.stack([v.detach() for v in (parts.policy, parts.value, parts.entropy,
                                             parts.approx_kl, parts.clipfrac, grad_norm)]).double()


def add_step(sums: dict[str, torch.Tensor], parts, grad_norm: torch.Tensor) -> None:
    """Adds one optimizer step's loss parts and gradient norm to an update's sums (device
    tensors, float64: read once, in `Learner.finish`)."""
    sums["steps"] = sums["steps"] + step_values(parts, grad_norm) if "steps" in sums \
        else step_values(parts, grad_norm)


def publication(policy, member: str, version: tuple, frozen: bool = False) -> dict[str, Any]:
    """A policy as rollout workers receive it; `frozen`: it plays, it is never trained (its
    weights are copied: CPU numpy views would follow the live parameters)."""
    weights = {k: v.detach().cpu().numpy() for k, v in policy.state_dict().items()}
    out = {"member": member, "version": version, "obs_size": policy.obs_size,
           "action_names": list(policy.action_names), "net": to_dict(policy.net),
           "weights": {k: v.copy() for k, v in weights.items()} if frozen else weights}
    if frozen:
        out["frozen"] = True
    return out


class Learner:
    def __init__(self, member: str, obs_size: int, action_names, *, net: NetConfig = NetConfig(),
                 config: PPOConfig = PPOConfig(), shaping_weights: Mapping[str, float] | None = None,
                 device: str = "auto", seed: int = 0, total_steps: int | None = None):
        self.member = member
        self.device = resolve_device(device)
        torch.manual_seed(seed)
        self.policy = Policy(obs_size, action_names, net).to(self.device)
        self.config = config
        self.shaping = shaping.validate(shaping_weights or {"reward": 1.0})
        self.social: dict[str, float] | None = None
        """The member's own social parameters (population.member.social_of), published with its
        weights: the collectors compute its seats' social components with them."""
        self.total_steps = total_steps
        # fused: one kernel for every parameter's Adam step (torch's default loops over the
        # parameters, much slower on one CPU thread for the small networks here)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.lr,
                                          eps=config.adam_eps, fused=True)
        self.generator = torch.Generator().manual_seed(seed)
        self.uid = secrets.token_hex(6)
        """Identifies this learner's weights lineage in publications (with `version`)."""
        self.version = 0
        self.agent_steps = 0
        self.updates = 0
        self.skipped_updates = 0
        self.flags: list[str] = []

    # ------------------------------------------------------------------ publishing
    def publication(self) -> dict[str, Any]:
        """What rollout workers need to act: weights as numpy, plus the network's shape."""
        out = publication(self.policy, self.member, (self.uid, self.version))
        if self.social:
            out["social"] = dict(self.social)
        return out

    def set_config(self, config: PPOConfig) -> None:
        self.config = config
        for group in self.optimizer.param_groups:  # the optimizer's settings that genes may move
            group["lr"], group["eps"] = config.lr, config.adam_eps

    def current_lr(self) -> float:
        if self.config.lr_schedule == "linear" and self.total_steps:
            return self.config.lr * max(0.0, 1.0 - self.agent_steps / self.total_steps)
        return self.config.lr

    # ------------------------------------------------------------------ update
    def update(self, batch: Batch) -> dict[str, float]:
        prepared = self.prepare(batch)
        if isinstance(prepared, dict):
            return prepared
        return self.run(prepared, self.schedule(batch))

    def run(self, prepared: tuple, schedule: list[torch.Tensor]) -> dict[str, float]:
        """The optimizer steps of a prepared update, one per minibatch of `schedule`.

        Nothing here waits for the device until the end: each step's finiteness is a device
        flag, an optimizer step whose loss or gradient is not finite, and every step after it
        (the rest of the update is abandoned), is skipped on the device (fused Adam's
        `found_inf`, as torch's GradScaler skips steps: parameters, moments and step count
        untouched), the statistics are summed there, and one read at the end says how many
        steps were taken, whether and why the update was abandoned, and the stats. The
        forward and backward passes of steps after a failure run and are thrown away (a
        rare case: the member is flagged)."""
        t, rewards, lr = prepared
        fresh = not self.optimizer.state  # an abandoned first update leaves Adam's state empty
        alive = torch.ones((), dtype=torch.bool, device=self.device)
        failed = torch.zeros((), dtype=torch.long, device=self.device)  # FAILURES' index
        sums = torch.zeros(len(STEP_STATS), dtype=torch.float64, device=self.device)
        count = torch.zeros((), dtype=torch.long, device=self.device)
        try:
            for index, keep in self._on_device(t, schedule):
                loss_ok, grad_ok, values = self._step(t, index, keep, alive)
                code = torch.where(loss_ok, 2, 1)  # the loss first, as it is checked first
                failed = torch.where(alive & ~(loss_ok & grad_ok) & (failed == 0), code, failed)
                alive = alive & loss_ok & grad_ok
                sums += torch.where(alive, values, 0.0)
                count += alive.long()
        finally:
            self.optimizer.__dict__.pop("found_inf", None)
        tail = self._summary(t, rewards)
        read = torch.cat([sums, count.double().view(1), failed.double().view(1), tail]).tolist()
        steps, code = int(read[len(STEP_STATS)]), int(read[len(STEP_STATS) + 1])
        if code:
            self.optimizer.zero_grad(set_to_none=True)
            if fresh and not steps:
                self.optimizer.state.clear()
            return self.abandon(FAILURES[code], steps)
        return self._stats(lr, dict(zip(STEP_STATS, read[:len(STEP_STATS)])), steps,
                           read[len(STEP_STATS) + 2:])

    def prepare(self, batch: Batch):
        """The first part of `update`: the batch on the device, its shaped rewards, GAE and
        this update's learning rate -> (tensors, rewards, lr); or, when an input is not
        finite, the skipped update's stats (a dict)."""
        cfg = self.config
        t = self._tensors(batch)
        rewards = shaping.shaped(t["rewards"], self.shaping, batch.components)
        finite_inputs = bool(torch.stack([torch.isfinite(a).all() for a in (
            rewards, t["values"], t["logp"], t["last_value"])]).all())
        self.agent_steps += batch.agent_steps
        if not finite_inputs:
            return self._skip("non-finite rewards, values or log-probabilities in the batch")
        t["adv"], t["ret"] = gae(rewards, t["values"], t["dones"], t["last_value"], cfg.gamma,
                                 cfg.gae_lambda)
        lr = self.current_lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return t, rewards, lr

    def schedule(self, batch: Batch) -> list[torch.Tensor]:
        """Every optimizer step's minibatch, epoch after epoch (drawn from this learner's
        generator in that order)."""
        return [index for _ in range(self.config.epochs) for index in self._minibatches(batch)]

    def abandon(self, reason: str, count: int) -> dict[str, float]:
        """A non-finite loss or gradient at the step after `count` finite ones: the rest of
        the update is abandoned (the earlier steps did change the weights)."""
        self.version += 1 if count else 0
        return self._skip(reason)

    def finish(self, t: dict, rewards: torch.Tensor, lr: float, sums: dict[str, torch.Tensor],
               count: int) -> dict[str, float]:
        """The last part of `update` (sums: add_step's, on the device): the new version and
        the update's stats, read from the device at once."""
        read = torch.cat([sums["steps"], self._summary(t, rewards)]).tolist()
        return self._stats(lr, dict(zip(STEP_STATS, read[:len(STEP_STATS)])), count,
                           read[len(STEP_STATS):])

    @staticmethod
    def _summary(t: dict, rewards: torch.Tensor) -> torch.Tensor:
        """The batch's statistics (float64, on the device): the returns' variance, the
        residual variance of the values, the mean shaped reward and the mean harvest."""
        ret = t["ret"].double()
        return torch.stack([ret.var(correction=0), (ret - t["values"]).var(correction=0),
                            rewards.mean().double(),
                            t["rewards"][..., 0].mean().double()])  # "reward": always first

    def _stats(self, lr: float, sums: dict[str, float], count: int, summary: list[float]
               ) -> dict[str, float]:
        """The new version and the update's stats, from the values read off the device."""
        self.version += 1
        self.updates += 1
        stats = {k: v / count for k, v in sums.items()}
        var, residual, shaped, harvest = summary
        stats["explained_variance"] = (1 - residual / var) if var > 0 else float("nan")
        stats["lr"] = lr
        stats["shaped_reward_per_step"] = shaped
        stats["harvest_per_step"] = harvest
        stats["skipped"] = 0.0
        return stats

    def _tensors(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The batch's arrays as tensors on this learner's device: numpy arrays from Ray
        workers are copied once (they may be read-only views of Ray's object store);
        tensors from the device collector are used as they are."""
        names = ["obs", "actions", "logp", "values", "rewards", "dones", "masks", "starts",
                 "last_value"] + (["states"] if self.policy.recurrent else [])
        out = {}
        for name in names:
            a = getattr(batch, name)
            a = torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a
            out[name] = a.to(self.device, non_blocking=True)
        return out

    def _minibatches(self, batch: Batch):
        """Index sets: flat [T*N] positions, or (chunk, seat) sequences with the LSTM.

        round(total / minibatch_size) minibatches (at least one) of equal size (they differ
        by at most one), so every member takes one optimizer step per about
        `minibatch_size` samples whatever its share of the seats: a league member that
        played 1,150 agent-steps takes one minibatch of 1,150 (slicing off 1,000 at a time
        would add a step on 150 samples, whose matmuls cost about as much as a full one
        and whose advantages are normalised over 150). Minibatches hold between 2/3 and
        1.5 x `minibatch_size` samples, or the whole batch when it is smaller."""
        steps, seats = batch.actions.shape
        if not self.policy.recurrent:
            total, size = steps * seats, self.config.minibatch_size
        else:
            total, size = batch.states.shape[0] * seats, max(1, self.config.minibatch_size // self.config.bptt)
        perm = torch.randperm(total, generator=self.generator)
        return list(torch.tensor_split(perm, max(1, math.floor(total / size + 0.5))))

    def _on_device(self, t: dict, schedule: list[torch.Tensor]):
        """The schedule's minibatches on the device, copied there at once: [(index, keep)],
        keep (with the LSTM) the flat positions of a minibatch's [bptt, n] steps that lie in
        the batch (the last chunk may be shorter), found here on the host, where the index
        is, rather than by a boolean mask on the device (a host sync per minibatch)."""
        sizes = [len(index) for index in schedule]
        if not schedule:
            return []
        if not self.policy.recurrent:
            flat = torch.cat(schedule).to(self.device, non_blocking=True)
            return [(index, None) for index in flat.split(sizes)]
        bptt = self.config.bptt
        steps, seats = t["actions"].shape
        offsets = torch.arange(bptt).unsqueeze(1)
        keeps = [((index // seats).unsqueeze(0) * bptt + offsets < steps).reshape(-1)
                 .nonzero().squeeze(1) for index in schedule]
        flat = torch.cat(schedule + keeps).to(self.device, non_blocking=True)
        parts = flat.split(sizes + [len(k) for k in keeps])
        return list(zip(parts[:len(schedule)], parts[len(schedule):]))

    def _forward(self, t: dict, index: torch.Tensor, keep: torch.Tensor | None = None):
        """(new logp, entropy, values) and the matching old tensors, flattened; keep: see
        `_on_device` (None: found here)."""
        if not self.policy.recurrent:
            steps, seats = t["actions"].shape
            flat = {k: t[k].reshape((steps * seats,) + t[k].shape[2:])[index.to(self.device)]
                    for k in ("obs", "actions", "logp", "values", "masks", "adv", "ret")}
            logits, values, _ = self.policy(flat["obs"])
            logp_all = masked_log_softmax(logits, flat["masks"])
            new_logp = logp_all.gather(-1, flat["actions"].unsqueeze(-1)).squeeze(-1)
            return new_logp, entropy(logp_all), values, flat
        bptt = self.config.bptt
        steps, seats = t["actions"].shape
        index = index.to(self.device)
        chunk, seat = index // seats, index % seats
        offsets = torch.arange(bptt, device=self.device)
        positions = chunk.unsqueeze(0) * bptt + offsets.unsqueeze(1)  # [bptt, n]
        valid = positions < steps  # the last chunk may be shorter
        rows = positions.clamp(max=steps - 1)
        cols = seat.unsqueeze(0).expand_as(rows)
        seq = {k: t[k][rows, cols] for k in ("obs", "actions", "logp", "values", "masks", "adv",
                                             "ret", "starts")}
        state = t["states"][chunk, seat]
        logits, values = self.policy.forward_sequence(seq["obs"], state, seq["starts"])
        logp_all = masked_log_softmax(logits, seq["masks"])
        new_logp = logp_all.gather(-1, seq["actions"].unsqueeze(-1)).squeeze(-1)
        if keep is None:
            keep = valid.reshape(-1).nonzero().squeeze(1)
        flat = {k: v.reshape((-1,) + v.shape[2:])[keep] for k, v in seq.items()}
        return (new_logp.reshape(-1)[keep], entropy(logp_all).reshape(-1)[keep],
                values.reshape(-1)[keep], flat)

    def _step(self, t: dict, index: torch.Tensor, keep: torch.Tensor | None,
              alive: torch.Tensor):
        """One optimizer step, taken on the device only if `alive` and its loss and gradient
        are finite (see `run`) -> (loss finite, gradient finite, step_values), on the device."""
        cfg = self.config
        new_logp, ent, values, old = self._forward(t, index, keep)
        parts = ppo_loss(new_logp, old["logp"], old["adv"], values, old["values"], old["ret"], ent,
                         clip=cfg.clip, vf_coef=cfg.vf_coef, ent_coef=cfg.ent_coef,
                         vf_clip=cfg.vf_clip, norm_adv=cfg.norm_adv)
        loss_ok = torch.isfinite(parts.total)
        self.optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
        grad_ok = torch.isfinite(grad_norm)
        # fused Adam skips the step on the device when found_inf is 1 (the learner's Adam is
        # always fused: its step supports AMP's scaling arguments)
        self.optimizer.found_inf = (~(alive & loss_ok & grad_ok)).float()
        self.optimizer.step()
        return loss_ok, grad_ok, step_values(parts, grad_norm)

    def _skip(self, reason: str) -> dict[str, float]:
        self.skipped_updates += 1
        self.flags.append(f"update {self.updates + self.skipped_updates}: {reason}; skipped")
        return {"skipped": 1.0, "lr": self.current_lr()}

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def weights_finite(self) -> bool:
        return bool(torch.stack([torch.isfinite(p.detach()).all()
                                 for p in self.policy.parameters()]).all())  # one read
