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


def add_step(sums: dict[str, float], parts, grad_norm: float) -> None:
    """Adds one optimizer step's loss parts and gradient norm to an update's sums."""
    for key, value in (("policy_loss", parts.policy), ("value_loss", parts.value),
                       ("entropy", parts.entropy), ("approx_kl", parts.approx_kl),
                       ("clipfrac", parts.clipfrac), ("grad_norm", grad_norm)):
        sums[key] = sums.get(key, 0.0) + float(value.detach() if torch.is_tensor(value) else value)


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
        return publication(self.policy, self.member, (self.uid, self.version))

    def set_config(self, config: PPOConfig) -> None:
        self.config = config
        for group in self.optimizer.param_groups:
            group["lr"] = config.lr

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
        """The optimizer steps of a prepared update, one per minibatch of `schedule`."""
        t, rewards, lr = prepared
        sums: dict[str, float] = {}
        for count, index in enumerate(schedule):
            parts, grad_norm = self._step(t, index)
            if parts is None:
                return self.abandon(grad_norm, count)
            add_step(sums, parts, grad_norm)
        return self.finish(t, rewards, lr, sums, len(schedule))

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

    def finish(self, t: dict, rewards: torch.Tensor, lr: float, sums: dict[str, float],
               count: int) -> dict[str, float]:
        """The last part of `update`: the new version and the update's stats."""
        self.version += 1
        self.updates += 1
        stats = {k: v / count for k, v in sums.items()}
        ret = t["ret"].double()
        var = float(ret.var(correction=0))
        stats["explained_variance"] = (float(1 - (ret - t["values"]).var(correction=0) / var)
                                       if var > 0 else float("nan"))
        stats["lr"] = lr
        stats["shaped_reward_per_step"] = float(rewards.mean())
        stats["harvest_per_step"] = float(t["rewards"][..., 0].mean())  # "reward": always first
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

    def _forward(self, t: dict, index: torch.Tensor):
        """(new logp, entropy, values) and the matching old tensors, flattened."""
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
        keep = valid.reshape(-1)
        flat = {k: v.reshape((-1,) + v.shape[2:])[keep] for k, v in seq.items()}
        return (new_logp.reshape(-1)[keep], entropy(logp_all).reshape(-1)[keep],
                values.reshape(-1)[keep], flat)

    def _step(self, t: dict, index: torch.Tensor):
        cfg = self.config
        new_logp, ent, values, old = self._forward(t, index)
        parts = ppo_loss(new_logp, old["logp"], old["adv"], values, old["values"], old["ret"], ent,
                         clip=cfg.clip, vf_coef=cfg.vf_coef, ent_coef=cfg.ent_coef,
                         vf_clip=cfg.vf_clip, norm_adv=cfg.norm_adv)
        if not torch.isfinite(parts.total):
            self.optimizer.zero_grad(set_to_none=True)
            return None, "non-finite loss"
        self.optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
        if not torch.isfinite(grad_norm):
            self.optimizer.zero_grad(set_to_none=True)
            return None, "non-finite gradient"
        self.optimizer.step()
        return parts, float(grad_norm)

    def _skip(self, reason: str) -> dict[str, float]:
        self.skipped_updates += 1
        self.flags.append(f"update {self.updates + self.skipped_updates}: {reason}; skipped")
        return {"skipped": 1.0, "lr": self.current_lr()}

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def weights_finite(self) -> bool:
        return all(math.isfinite(float(p.detach().abs().sum())) for p in self.policy.parameters())
