"""The network an exported policy holds: a popbased Policy with its observation
preprocessing and action masking built in, traced to TorchScript or ONNX.

Inputs (N seats):
    rgb    uint8 [N, H, W, 3]   a player's view as Melting Pot gives it (88x88 when 88 is a
                                multiple of the policy's view size; else already resized)
    mask   bool  [N, A]         legal actions, in the policy's own action order
    state  float [N, 2, L]      LSTM h and c (recurrent policies only)
    starts bool  [N]            True on an episode's first step (recurrent only)
Outputs: logp float [N, A] (masked log-probabilities), value float [N], state (recurrent).

Preprocessing inside: when 88 = k * s, OpenCV's INTER_AREA resize of uint8 images is a
k x k mean, rounded half up for k = 2 (its 2x2 fast path) and half to even for k = 4, 8, 11
(cvRound); `avg_pool2d` with the same rounding reproduces it exactly (tests check it on
random images, every export's verification on real frames). Other k (22, 44) do not come
out exact in OpenCV's fixed-point code, so those policies take views already resized.
"""

from __future__ import annotations

import logging
import warnings

import torch
from torch import nn
from torch.nn import functional as F

from popbased.ppo.policy import MASKED_LOGIT, Policy

RAW = 88  # Melting Pot's per-player view (11x11 sprites of 8x8 pixels)


HALF_UP = {2}
HALF_EVEN = {4, 8, 11}


def input_size(policy: Policy) -> int:
    factor, rest = divmod(RAW, policy.obs_size)
    return RAW if rest == 0 and factor in HALF_UP | HALF_EVEN | {1} else policy.obs_size


class _Base(nn.Module):
    def __init__(self, policy: Policy):
        super().__init__()
        self.policy = policy
        self.factor = input_size(policy) // policy.obs_size

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] float views -> the policy's view size, as OpenCV's area resize does."""
        if self.factor == 1:
            return x
        mean = F.avg_pool2d(x, self.factor)
        return torch.floor(mean + 0.5) if self.factor in HALF_UP else torch.round(mean)

    def _features(self, rgb: torch.Tensor) -> torch.Tensor:
        x = self.pool(rgb.permute(0, 3, 1, 2).float())
        return self.policy.torso(x * (1.0 / 255.0))

    def _heads(self, x: torch.Tensor, mask: torch.Tensor):
        logits = self.policy.actor(x).masked_fill(~mask, MASKED_LOGIT)
        return torch.log_softmax(logits, dim=-1), self.policy.critic(x).squeeze(-1)


class FeedForward(_Base):
    def forward(self, rgb: torch.Tensor, mask: torch.Tensor):
        return self._heads(self._features(rgb), mask)


class Recurrent(_Base):
    def forward(self, rgb: torch.Tensor, mask: torch.Tensor, state: torch.Tensor, starts: torch.Tensor):
        x, state = self.policy._recur(self._features(rgb), state, starts)
        logp, value = self._heads(x, mask)
        return logp, value, state


def wrap(policy: Policy) -> _Base:
    policy = policy.eval().requires_grad_(False)
    return Recurrent(policy) if policy.recurrent else FeedForward(policy)


def example_inputs(policy: Policy, n: int = 2) -> tuple[torch.Tensor, ...]:
    size = input_size(policy)
    inputs = (torch.zeros(n, size, size, 3, dtype=torch.uint8),
              torch.ones(n, len(policy.action_names), dtype=torch.bool))
    if policy.recurrent:
        inputs += (policy.initial_state(n), torch.zeros(n, dtype=torch.bool))
    return inputs


def names(recurrent: bool) -> tuple[list[str], list[str]]:
    if recurrent:
        return ["rgb", "mask", "state", "starts"], ["logp", "value", "state_out"]
    return ["rgb", "mask"], ["logp", "value"]


def torchscript(policy: Policy) -> torch.jit.ScriptModule:
    with torch.no_grad():
        return torch.jit.trace(wrap(policy), example_inputs(policy), check_trace=False)


def to_onnx(policy: Policy, path) -> None:
    """ONNX (opset 18) with a dynamic number of seats, via torch.export."""
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed" notes
    module = wrap(policy)
    inputs = example_inputs(policy)
    seats = torch.export.Dim("seats", min=1, max=4096)
    dynamic = tuple({0: seats} for _ in inputs)
    input_names, output_names = names(policy.recurrent)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, inputs, dynamic_shapes=dynamic, input_names=input_names,
                                    output_names=output_names, dynamo=True, verbose=False,
                                    optimize=True)
    program.save(str(path))
    _drop_stack_traces(path)


def _drop_stack_traces(path) -> None:
    """torch.onnx records, per node, the Python stack that made it: file paths of this machine
    (`pkg.torch.onnx.stack_trace`). An export is shared and committed, so they go; the graph
    and its weights are untouched."""
    import onnx  # deferred: exporting to ONNX only

    proto = onnx.load(str(path))
    for node in proto.graph.node:
        kept = [p for p in node.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    onnx.save(proto, str(path))
