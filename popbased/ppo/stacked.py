"""Several members' policies of one architecture, evaluated in one pass.

    stacked = StackedPolicies.of([policy_a, policy_b, ...])      # same NetConfig, obs, actions
    logits, values, state = stacked(obs, state, starts)            # obs [M, n, s, s, 3] uint8

Member i's weights act on row i only, exactly as `Policy.forward` would (the same layers,
the same order of operations), but the linear layers are one batched matmul over the
members (`torch.bmm`) and, on CUDA, the convolutions one grouped convolution, so a
population of M members costs about one forward pass of M x n seats instead of M small
ones (on CPUs a convolution per member is faster than the grouped one, so it does that).
Results equal the per-member `Policy.forward` to float rounding (the matmuls sum in another
order); tests/ state the tolerance.

`forward(net, params, obs)` is the same computation on stacked parameters that autograd
can differentiate: the joint PPO update of several members (popbased.ppo.joint) trains
through it.
"""

from __future__ import annotations

from typing import Mapping, Sequence

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


def stack_state_dicts(weights: Sequence[Mapping[str, torch.Tensor]], device) -> dict[str, torch.Tensor]:
    """{name: [M, ...]} from M state dicts (tensors or arrays), in nn's own layouts."""
    return {name: torch.stack([torch.as_tensor(w[name]) for w in weights]).to(device)
            for name in weights[0]}


def _linear(params: Mapping[str, torch.Tensor], prefix: str, h: torch.Tensor) -> torch.Tensor:
    """h [M, n, in] through M nn.Linear layers (weight [M, out, in], bias [M, out])."""
    return torch.baddbmm(params[f"{prefix}.bias"].unsqueeze(1), h,
                         params[f"{prefix}.weight"].transpose(1, 2))


def forward(net: NetConfig, params: Mapping[str, torch.Tensor], obs: torch.Tensor,
            state: torch.Tensor | None = None, starts: torch.Tensor | None = None,
            grouped: bool | None = None):
    """obs [M, n, s, s, 3] uint8 -> (logits [M, n, A], values [M, n], state [M, n, 2, H] or
    None), with params {state-dict name: [M, ...]}; `grouped`: the convolutions as one grouped
    conv (None: on CUDA only)."""
    m, n = obs.shape[:2]
    x = obs.permute(0, 1, 4, 2, 3).float().mul_(1.0 / 255.0)  # [M, n, C, H, W]
    grouped = x.is_cuda if grouped is None else grouped
    layer = 0
    for stride in net.conv_strides:
        weight, bias = params[f"torso.{layer}.weight"], params[f"torso.{layer}.bias"]
        if grouped:  # one conv for every member: members as groups of channels
            y = F.conv2d(x.transpose(0, 1).reshape((n, -1) + x.shape[3:]),
                         weight.flatten(0, 1), bias.flatten(), stride=stride, groups=m)
            x = y.view((n, m, -1) + y.shape[2:]).transpose(0, 1)
        else:  # on CPUs one conv per member is faster (its kernels pick better tiles)
            x = torch.stack([F.conv2d(x[i], weight[i], bias[i], stride=stride) for i in range(m)])
        x = x.relu()
        layer += 2  # conv, relu
    layer += 1  # flatten
    h = x.reshape(m, n, -1)  # flattened as nn.Flatten does: channel-major
    for _ in net.mlp:
        h = _linear(params, f"torso.{layer}", h).relu()
        layer += 2
    if net.lstm:
        if starts is None:
            starts = torch.zeros(m, n, dtype=torch.bool, device=h.device)
        keep = (~starts).to(h.dtype).unsqueeze(-1)
        h0, c0 = state[:, :, 0] * keep, state[:, :, 1] * keep
        bias = (params["lstm.bias_ih"] + params["lstm.bias_hh"]).unsqueeze(1)
        gates = (torch.baddbmm(bias, h, params["lstm.weight_ih"].transpose(1, 2))
                 + torch.bmm(h0, params["lstm.weight_hh"].transpose(1, 2)))
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c0 + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        state = torch.stack((h, c), dim=2)
    return _linear(params, "actor", h), _linear(params, "critic", h).squeeze(-1), state


class StackedPolicies:
    """See the module docstring. Built from the members' network shape and each member's
    state dict (tensors or arrays, any device)."""

    def __init__(self, net: NetConfig, weights: Sequence[Mapping[str, torch.Tensor]],
                 device: torch.device | str = "cpu"):
        self.net = net
        self.members = len(weights)
        self.device = torch.device(device)
        self.grouped_conv: bool | None = None
        """Convolutions as one grouped conv (True) or one per member (False); None: grouped
        on CUDA (fewer kernel launches), per member on CPUs (faster there)."""
        self.params = stack_state_dicts(weights, self.device)

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
        return bool(self.net.lstm)

    def initial_state(self, n: int) -> torch.Tensor | None:
        if not self.net.lstm:
            return None
        return torch.zeros(self.members, n, 2, self.net.lstm, device=self.device)

    @torch.inference_mode()
    def __call__(self, obs: torch.Tensor, state: torch.Tensor | None = None,
                 starts: torch.Tensor | None = None, counts: Sequence[int] | None = None):
        """obs [M, n, s, s, 3] uint8 -> (logits [M, n, A], values [M, n], state [M, n, 2, H]).

        `counts`: member i's rows are its first counts[i] (the rest is padding). On CPUs,
        where padding costs as much as real rows, each member runs on its own rows only
        when padding would more than triple them (a league that seats one member in half
        the seats); padded rows then come out as zeros. Otherwise (and always on CUDA) the
        padded stack runs as one pass: one call per member costs more than modest padding
        (measured on 2 cores: 6 members evenly seated, 186 ms a fragment padded vs 230
        one by one; 32 members, 553 vs 770; one member in half the seats, 490 vs 270)."""
        grouped = obs.is_cuda if self.grouped_conv is None else self.grouped_conv
        if counts is None or grouped or len(counts) * obs.shape[1] <= 3 * sum(counts):
            return forward(self.net, self.params, obs, state, starts, grouped)
        m, n = obs.shape[:2]
        logits = obs.new_zeros((m, n, self.params["actor.bias"].shape[1]), dtype=torch.float32)
        values = obs.new_zeros((m, n), dtype=torch.float32)
        new_state = None if state is None else torch.zeros_like(state)
        for i, c in enumerate(counts):
            one = {k: v[i:i + 1] for k, v in self.params.items()}
            l, v, h = forward(self.net, one, obs[i:i + 1, :c],
                              None if state is None else state[i:i + 1, :c],
                              None if starts is None else starts[i:i + 1, :c], grouped)
            logits[i, :c], values[i, :c] = l[0], v[0]
            if h is not None:
                new_state[i, :c] = h[0]
        return logits, values, new_state
