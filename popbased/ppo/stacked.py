"""Several members' policies of one architecture, evaluated in one pass.

    stacked = StackedPolicies.of([policy_a, policy_b, ...])      # same NetConfig, obs, actions
    logits, values, state = stacked(obs, state, starts)            # obs [M, n, s, s, 3] uint8

Member i's weights act on row i only, exactly as `Policy.forward` would (the same layers,
the same order of operations), but the linear layers are one batched matmul over the
members (`torch.bmm`) and, on CUDA, the convolutions one grouped convolution, so a
population of M members costs about one forward pass of M x n seats instead of M small
ones (on CPUs a convolution per member is faster than the grouped one, so it does that). Results equal the per-member
`Policy.forward` to float rounding (the matmuls sum in another order); tests/ state the
tolerance.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from popbased.ppo.config import NetConfig, from_mapping
from popbased.ppo.policy import Policy


def signature(policy_or_publication) -> tuple:
    """What must agree for policies to be stacked: the network's shape and actions."""
    p = policy_or_publication
    if isinstance(p, Policy):
        return (p.obs_size, tuple(p.action_names), p.net)
    return (int(p["obs_size"]), tuple(p["action_names"]), from_mapping(NetConfig, p["net"]))


class StackedPolicies:
    """See the module docstring. Built from the members' network shape and each member's
    state dict (tensors or arrays, any device)."""

    def __init__(self, net: NetConfig, weights: Sequence[dict[str, torch.Tensor]],
                 device: torch.device | str = "cpu"):
        self.net = net
        self.members = len(weights)
        self.device = torch.device(device)
        self.grouped_conv: bool | None = None
        """Convolutions as one grouped conv (True) or one per member (False); None: grouped
        on CUDA (fewer kernel launches), per member on CPUs (faster there)."""

        def stack(name: str) -> torch.Tensor:
            return torch.stack([torch.as_tensor(w[name]) for w in weights]).to(self.device)

        self.convs = []  # (weight [M, Cout, C, 3, 3], bias [M, Cout], stride)
        layer = 0
        for stride in self.net.conv_strides:
            self.convs.append((stack(f"torso.{layer}.weight"), stack(f"torso.{layer}.bias"), stride))
            layer += 2  # conv, relu
        layer += 1  # flatten
        self.mlp = []  # (weight [M, in, out], bias [M, 1, out])
        for _ in self.net.mlp:
            self.mlp.append(self._linear(stack, f"torso.{layer}"))
            layer += 2
        self.lstm = None
        if self.net.lstm:
            self.lstm = (stack("lstm.weight_ih").transpose(1, 2).contiguous(),
                         stack("lstm.weight_hh").transpose(1, 2).contiguous(),
                         (stack("lstm.bias_ih") + stack("lstm.bias_hh")).unsqueeze(1))
        self.actor = self._linear(stack, "actor")
        self.critic = self._linear(stack, "critic")

    @staticmethod
    def _linear(stack, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
        return (stack(f"{prefix}.weight").transpose(1, 2).contiguous(),
                stack(f"{prefix}.bias").unsqueeze(1))

    @classmethod
    def of(cls, policies: Sequence[Policy]) -> "StackedPolicies":
        first = policies[0]
        if any(signature(p) != signature(first) for p in policies):
            raise ValueError("StackedPolicies needs policies of one architecture and action set")
        device = next(first.parameters()).device
        return cls(first.net, [{k: v.detach() for k, v in p.state_dict().items()} for p in policies],
                   device)

    @property
    def recurrent(self) -> bool:
        return self.lstm is not None

    def initial_state(self, n: int) -> torch.Tensor | None:
        if self.lstm is None:
            return None
        return torch.zeros(self.members, n, 2, self.net.lstm, device=self.device)

    @torch.inference_mode()
    def __call__(self, obs: torch.Tensor, state: torch.Tensor | None = None,
                 starts: torch.Tensor | None = None):
        """obs [M, n, s, s, 3] uint8 -> (logits [M, n, A], values [M, n], state [M, n, 2, H])."""
        m, n = obs.shape[:2]
        x = obs.permute(0, 1, 4, 2, 3).float().mul_(1.0 / 255.0)  # [M, n, C, H, W]
        grouped = self.grouped_conv if self.grouped_conv is not None else x.is_cuda
        for weight, bias, stride in self.convs:
            if grouped:  # one conv for every member: members as groups of channels
                y = F.conv2d(x.transpose(0, 1).reshape((n, -1) + x.shape[3:]),
                             weight.flatten(0, 1), bias.flatten(), stride=stride, groups=m)
                x = y.view((n, m, -1) + y.shape[2:]).transpose(0, 1)
            else:  # on CPUs one conv per member is faster (its kernels pick better tiles)
                x = torch.stack([F.conv2d(x[i], weight[i], bias[i], stride=stride)
                                 for i in range(m)])
            x = x.relu()
        h = x.reshape(m, n, -1)  # flattened as nn.Flatten does: channel-major
        for weight, bias in self.mlp:
            h = torch.baddbmm(bias, h, weight).relu_()
        if self.lstm is not None:
            w_ih, w_hh, b = self.lstm
            if starts is None:
                starts = torch.zeros(m, n, dtype=torch.bool, device=h.device)
            keep = (~starts).to(h.dtype).unsqueeze(-1)
            h0, c0 = state[:, :, 0] * keep, state[:, :, 1] * keep
            gates = torch.baddbmm(b, h, w_ih) + torch.bmm(h0, w_hh)
            i, f, g, o = gates.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c0 + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            state = torch.stack((h, c), dim=2)
        logits = torch.baddbmm(self.actor[1], h, self.actor[0])
        values = torch.baddbmm(self.critic[1], h, self.critic[0]).squeeze(-1)
        return logits, values, state
