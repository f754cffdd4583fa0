"""The policy network: conv torso on each player's view, MLP, optional LSTM, actor and critic.

Observations are uint8 [N, s, s, 3] exactly as the env gives them; the network scales
them. With the LSTM on, state is [N, 2, lstm] (h and c) and `starts` [N] marks the first
step of an episode, where the state is zeroed before use.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from popbased.errors import BadInput
from popbased.ppo.config import NetConfig

MASKED_LOGIT = -1e9


def _init(layer: nn.Module, gain: float) -> nn.Module:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class Policy(nn.Module):
    def __init__(self, obs_size: int, action_names: Sequence[str], net: NetConfig = NetConfig()):
        super().__init__()
        self.obs_size = int(obs_size)
        self.action_names = tuple(action_names)
        self.net = net
        side = self.obs_size
        layers: list[nn.Module] = []
        channels = 3
        for c, stride in zip(net.conv_channels, net.conv_strides):
            side = (side - 3) // stride + 1
            if side < 1:
                raise BadInput(f"the conv layers {net.conv_channels} (strides {net.conv_strides}) "
                               f"do not fit a {obs_size}x{obs_size} observation")
            layers += [_init(nn.Conv2d(channels, c, 3, stride=stride), np.sqrt(2)), nn.ReLU()]
            channels = c
        layers.append(nn.Flatten())
        width = channels * side * side
        for h in net.mlp:
            layers += [_init(nn.Linear(width, h), np.sqrt(2)), nn.ReLU()]
            width = h
        self.torso = nn.Sequential(*layers)
        self.lstm = nn.LSTMCell(width, net.lstm) if net.lstm else None
        if self.lstm is not None:
            for name, p in self.lstm.named_parameters():
                nn.init.zeros_(p) if "bias" in name else nn.init.orthogonal_(p)
            width = net.lstm
        self.actor = _init(nn.Linear(width, len(self.action_names)), 0.01)
        self.critic = _init(nn.Linear(width, 1), 1.0)

    @property
    def recurrent(self) -> bool:
        return self.lstm is not None

    def initial_state(self, n: int, device=None) -> torch.Tensor | None:
        if self.lstm is None:
            return None
        return torch.zeros(n, 2, self.net.lstm, device=device)

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.permute(0, 3, 1, 2).float().mul_(1.0 / 255.0)
        return self.torso(x)

    def _recur(self, x: torch.Tensor, state: torch.Tensor, starts: torch.Tensor):
        keep = (~starts).float().view(-1, 1)
        h, c = self.lstm(x, (state[:, 0] * keep, state[:, 1] * keep))
        return h, torch.stack((h, c), dim=1)

    def forward(self, obs: torch.Tensor, state: torch.Tensor | None = None,
                starts: torch.Tensor | None = None):
        """One step for N seats -> (logits [N, A], value [N], new state or None)."""
        x = self.features(obs)
        if self.lstm is not None:
            if starts is None:
                starts = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
            x, state = self._recur(x, state, starts)
        return self.actor(x), self.critic(x).squeeze(-1), state

    def forward_sequence(self, obs: torch.Tensor, state: torch.Tensor | None,
                         starts: torch.Tensor):
        """T steps for N sequences: obs [T, N, s, s, 3] -> logits [T, N, A], value [T, N]."""
        steps, n = obs.shape[:2]
        x = self.features(obs.reshape((steps * n,) + obs.shape[2:]))
        if self.lstm is not None:
            x = x.view(steps, n, -1)
            out = []
            for t in range(steps):
                h, state = self._recur(x[t], state, starts[t])
                out.append(h)
            x = torch.stack(out).view(steps * n, -1)
        logits = self.actor(x).view(steps, n, -1)
        return logits, self.critic(x).view(steps, n)

    def get_action_and_value(self, obs: torch.Tensor, state: torch.Tensor | None = None,
                             starts: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                             action: torch.Tensor | None = None):
        """CleanRL's helper: (action, logprob, entropy, value, state); samples when action is None.

        mask [N, A] bool: False actions get probability 0 and are never sampled.
        """
        logits, value, state = self(obs, state, starts)
        logp = masked_log_softmax(logits, mask)
        if action is None:
            action = sample(logp)
        return (action, logp.gather(-1, action.unsqueeze(-1)).squeeze(-1), entropy(logp), value,
                state)


def masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is not None:
        logits = logits.masked_fill(~mask, MASKED_LOGIT)
    return torch.log_softmax(logits, dim=-1)


def sample(logp: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Samples one action per row from log-probabilities [..., A] by Gumbel-max: the argmax
    of logp + Gumbel noise, the noise -log(-log(u)) from uniforms u drawn on logp's device
    (from `generator` when given, which must live there). Every path that samples from a
    torch policy (rollout workers, the device collector, play and evaluation agents) samples
    here.

    Unlike torch.multinomial (whose CUDA path reads the probabilities' range back to the host
    on every call) it never waits for the device. Masked actions (p = 0, logp about
    MASKED_LOGIT) are never drawn: the noise lies in [-4.5, 16.7] (u in [float32's tiny,
    1 - 2**-24]), far less than MASKED_LOGIT's distance to any real log-probability."""
    u = torch.rand(logp.shape, generator=generator, device=logp.device, dtype=torch.float32)
    u = u.clamp_(min=torch.finfo(torch.float32).tiny)  # u = 0 would be noise -inf
    return (logp - u.log_().neg_().log_()).argmax(-1)


@torch.inference_mode()
def act(policy: Policy, rgb: np.ndarray, mask: np.ndarray, state: torch.Tensor | None,
        starts: np.ndarray, generator: torch.Generator | None = None):
    """Samples actions for N seats from uint8 views and the member's masks [N, A]:
    (actions [N], log-probability of each [N], values [N], new state) as numpy (state: tensor)."""
    logits, value, state = policy(torch.from_numpy(rgb), state, torch.from_numpy(starts))
    logp = masked_log_softmax(logits, torch.from_numpy(mask))
    action = sample(logp, generator)
    chosen = logp.gather(-1, action.unsqueeze(-1)).squeeze(-1)
    return action.numpy(), chosen.numpy(), value.numpy(), state


def entropy(logp: torch.Tensor) -> torch.Tensor:
    return -(logp.exp() * logp).sum(-1)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
