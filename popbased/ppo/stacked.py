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

`RowPolicies` is what the device collector acts with: the members over one flat batch of
rows in member order (a league seats them unevenly), action sets padded to one width
(`pad_actions`), each member's own layers on its own rows on CPUs (cheaper there than a
padded stack per action set) and the padded stack on CUDA.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

from popbased.ppo.config import NetConfig, from_mapping
from popbased.ppo.policy import MASKED_LOGIT, Policy


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
                 starts: torch.Tensor | None = None):
        """obs [M, n, s, s, 3] uint8 -> (logits [M, n, A], values [M, n], state [M, n, 2, H])."""
        return forward(self.net, self.params, obs, state, starts, self.grouped_conv)


def pad_actions(weights: Mapping[str, torch.Tensor], actions: int) -> dict[str, torch.Tensor]:
    """A member's weights with its actor widened to `actions` outputs: the extra logits are
    MASKED_LOGIT exactly (zero weights, that bias), so they get probability 0 and the
    member's own logits are unchanged."""
    weight, bias = weights["actor.weight"], weights["actor.bias"]
    extra = actions - weight.shape[0]
    if extra <= 0:
        return dict(weights)
    return {**weights, "actor.weight": torch.cat([weight, weight.new_zeros(extra, weight.shape[1])]),
            "actor.bias": torch.cat([bias, bias.new_full((extra,), MASKED_LOGIT)])}


class RowPolicies:
    """Several members' policies (one network shape, action sets padded to one width with
    `pad_actions`) over one flat batch of rows: member i plays rows
    offsets[i]:offsets[i + 1].

        policies = RowPolicies(net, [weights_a, weights_b], counts=[19, 26], device="cpu")
        logits, values, state = policies(obs, state, starts)      # obs [45, s, s, 3] uint8

    On CPUs each member's own layers run on its own rows (the computation of
    `Policy.forward`, equal to it to float rounding: the widened actor is another matmul
    shape): no padding, whose rows cost as much as real ones there. On CUDA the rows are
    padded into a [members, widest] stack for one StackedPolicies pass (kernel launches,
    not rows, are the cost there)."""

    def __init__(self, net: NetConfig, weights: Sequence[Mapping[str, torch.Tensor]],
                 counts: Sequence[int], device: torch.device | str = "cpu",
                 padded: bool | None = None):
        """padded: one stacked pass over padded rows (None: on CUDA only)."""
        self.net = net
        self.device = torch.device(device)
        self.counts = [int(c) for c in counts]
        self.offsets = [0]
        for c in self.counts:
            self.offsets.append(self.offsets[-1] + c)
        self.stacked: StackedPolicies | None = None
        if self.device.type == "cuda" if padded is None else padded:
            self.stacked = StackedPolicies(net, weights, self.device)
            width = max(self.counts)
            position = torch.arange(width, device=self.device)
            count = torch.tensor(self.counts, device=self.device)
            start = torch.tensor(self.offsets[:-1], device=self.device)
            self.valid = position[None, :] < count[:, None]
            self.index = start[:, None] + torch.minimum(position[None, :], count[:, None] - 1)
            # the valid cells' flat positions in the [members, width] stack, in member order:
            # taking them is what `[self.valid]` does, without its nonzero (a host sync per
            # use on CUDA: the count of True cells sizes the result); built once, from the
            # host's counts
            self.take = torch.tensor([j * width + p for j, c in enumerate(self.counts)
                                      for p in range(c)], dtype=torch.long, device=self.device)
        else:
            self.members = [{k: torch.as_tensor(v).to(self.device) for k, v in w.items()}
                            for w in weights]

    @property
    def recurrent(self) -> bool:
        return bool(self.net.lstm)

    @torch.inference_mode()
    def __call__(self, obs: torch.Tensor, state: torch.Tensor | None = None,
                 starts: torch.Tensor | None = None):
        """obs [R, s, s, 3] uint8 -> (logits [R, A], values [R], state [R, 2, H] or None)."""
        if self.stacked is not None:
            pad = self.index
            logits, values, state = self.stacked(
                obs[pad], None if state is None else state[pad], None if starts is None else starts[pad])
            take = self.take
            return (logits.flatten(0, 1)[take], values.flatten(0, 1)[take],
                    None if state is None else state.flatten(0, 1)[take])
        x = obs.permute(0, 3, 1, 2).float().mul_(1.0 / 255.0)
        logits, values, states = [], [], []
        for w, lo, hi in zip(self.members, self.offsets, self.offsets[1:]):
            h = x[lo:hi]
            layer = 0
            for stride in self.net.conv_strides:
                h = F.conv2d(h, w[f"torso.{layer}.weight"], w[f"torso.{layer}.bias"],
                             stride=stride).relu_()
                layer += 2
            h = h.flatten(1)
            layer += 1
            for _ in self.net.mlp:
                h = F.linear(h, w[f"torso.{layer}.weight"], w[f"torso.{layer}.bias"]).relu_()
                layer += 2
            if self.net.lstm:
                keep = (~starts[lo:hi]).to(h.dtype).unsqueeze(-1)
                hx, cx = torch.lstm_cell(h, (state[lo:hi, 0] * keep, state[lo:hi, 1] * keep),
                                         w["lstm.weight_ih"], w["lstm.weight_hh"],
                                         w["lstm.bias_ih"], w["lstm.bias_hh"])
                states.append(torch.stack((hx, cx), dim=1))
                h = hx
            logits.append(F.linear(h, w["actor.weight"], w["actor.bias"]))
            values.append(F.linear(h, w["critic.weight"], w["critic.bias"]))
        return (torch.cat(logits), torch.cat(values).squeeze(-1),
                torch.cat(states) if states else None)
