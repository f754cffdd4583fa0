"""Member checkpoints: one file, written atomically, with a SHA-256 of its content.

File layout: a header line `popbased-checkpoint 1 sha256=<hex>\n`, then a `torch.save`
payload (loaded with `weights_only=True`: no code runs on load). The payload holds the
weights, optimizer state, hyperparameters, shaping weights, RNG states and counters.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any, Sequence

import torch

from popbased.errors import BadInput
from popbased.textio import write_atomic
from popbased.ppo.config import NetConfig, PPOConfig, from_mapping, to_dict
from popbased.ppo.learner import Learner
from popbased.ppo.policy import Policy

MAGIC = b"popbased-checkpoint"
FORMAT = 1


def _payload(learner: Learner, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "member": learner.member,
        "obs_size": learner.policy.obs_size,
        "action_names": list(learner.policy.action_names),
        "net": to_dict(learner.policy.net),
        "ppo": to_dict(learner.config),
        "shaping": dict(learner.shaping),
        "weights": {k: v.detach().cpu() for k, v in learner.policy.state_dict().items()},
        "optimizer": learner.optimizer.state_dict(),
        "counters": {"version": learner.version, "agent_steps": learner.agent_steps,
                     "updates": learner.updates, "skipped_updates": learner.skipped_updates,
                     "total_steps": learner.total_steps},
        "flags": list(learner.flags),
        "rng": {"torch": torch.get_rng_state(), "learner": learner.generator.get_state()},
        "extra": extra,
    }




def save(learner: Learner, path: str | Path, extra: dict[str, Any] | None = None) -> str:
    """Writes the member's checkpoint; returns its content hash."""
    buffer = io.BytesIO()
    torch.save(_payload(learner, dict(extra or {})), buffer)
    body = buffer.getvalue()
    digest = hashlib.sha256(body).hexdigest()
    write_atomic(Path(path), b"%s %d sha256=%s\n" % (MAGIC, FORMAT, digest.encode()) + body)
    return digest


def read(path: str | Path) -> dict[str, Any]:
    """The checkpoint's payload, after checking its header and hash (BadInput if not right)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"checkpoint {path}: no such file")
    data = path.read_bytes()
    header, _, body = data.partition(b"\n")
    parts = header.split(b" ")
    if len(parts) != 3 or parts[0] != MAGIC or not parts[2].startswith(b"sha256="):
        raise BadInput(f"checkpoint {path}: not a popbased checkpoint (bad header)")
    if parts[1] != str(FORMAT).encode():
        raise BadInput(f"checkpoint {path}: format {parts[1].decode(errors='replace')}, "
                       f"this popbased reads format {FORMAT}")
    if hashlib.sha256(body).hexdigest().encode() != parts[2][len(b"sha256="):]:
        raise BadInput(f"checkpoint {path}: content hash mismatch (truncated or corrupted file)")
    try:
        return torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
    except Exception as err:  # hash matched, so the writer wrote something unreadable
        raise BadInput(f"checkpoint {path}: unreadable payload ({type(err).__name__}: {err})") from None


def load_policy(path: str | Path, obs_size: int | None = None) -> Policy:
    """Just the policy (for playing / evaluation)."""
    return policy_from(read(path), path, obs_size)


def policy_from(payload: dict[str, Any], path: str | Path, obs_size: int | None = None) -> Policy:
    """The policy of an already read checkpoint payload (`path` names it in errors)."""
    net = from_mapping(NetConfig, payload["net"], f"checkpoint {path}: net")
    if obs_size is not None and obs_size != payload["obs_size"]:
        raise BadInput(f"checkpoint {path}: trained on {payload['obs_size']}x{payload['obs_size']} "
                       f"observations, not {obs_size}x{obs_size}")
    policy = Policy(payload["obs_size"], payload["action_names"], net)
    _load_weights(policy, payload["weights"], path)
    return policy


def _load_weights(policy: Policy, weights: dict, path) -> None:
    try:
        policy.load_state_dict(weights)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise BadInput(f"checkpoint {path}: weights do not fit the network ({first})") from None


def load_learner(path: str | Path, *, device: str = "auto", expect_actions: Sequence[str] | None = None,
                 expect_obs_size: int | None = None, restore_rng: bool = True) -> tuple[Learner, dict]:
    """A learner restored exactly (weights, optimizer, config, shaping, counters, RNG)."""
    payload = read(path)
    if expect_obs_size is not None and payload["obs_size"] != expect_obs_size:
        raise BadInput(f"checkpoint {path}: trained on {payload['obs_size']}x{payload['obs_size']} "
                       f"observations; this run uses {expect_obs_size}x{expect_obs_size}")
    if expect_actions is not None and list(expect_actions) != payload["action_names"]:
        raise BadInput(f"checkpoint {path}: actions {payload['action_names']} do not match "
                       f"this run's {list(expect_actions)}")
    net = from_mapping(NetConfig, payload["net"], f"checkpoint {path}: net")
    ppo = from_mapping(PPOConfig, payload["ppo"], f"checkpoint {path}: ppo")
    counters = payload["counters"]
    learner = Learner(payload["member"], payload["obs_size"], payload["action_names"], net=net,
                      config=ppo, shaping_weights=payload["shaping"], device=device,
                      total_steps=counters["total_steps"])
    _load_weights(learner.policy, payload["weights"], path)
    learner.optimizer.load_state_dict(payload["optimizer"])
    learner.version = counters["version"]
    learner.agent_steps = counters["agent_steps"]
    learner.updates = counters["updates"]
    learner.skipped_updates = counters["skipped_updates"]
    learner.flags = list(payload["flags"])
    learner.generator.set_state(payload["rng"]["learner"])
    if restore_rng:
        torch.set_rng_state(payload["rng"]["torch"])
    return learner, payload["extra"]


__all__ = ["save", "read", "load_policy", "policy_from", "load_learner", "write_atomic"]
