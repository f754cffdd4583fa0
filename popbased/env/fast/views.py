"""Every player's 11x11x3 uint8 view of its world, in one gather per step.

View cell (i, j) of a player at p facing f (right r) shows world cell
p + (9 - i) f + (j - 5) r (Melting Pot's window: 9 ahead, 1 behind, 5 each side). The
world is first written as one int16 code per cell (palette.py: beam over avatar over
apple over grass / floor; wall; black outside the grid); the views gather those codes,
the viewer's own cell becomes the Self sprite, a removed player's view is all black,
and one table lookup [viewer orientation, code] gives the colours.
"""

from __future__ import annotations

import torch

from popbased.env.fast import palette
from popbased.env.fast.world import MARGIN, World

SIZE = 11
SELF_CELL = 9 * SIZE + 5


class Renderer:
    def __init__(self, world: World):
        self.world = world
        dev = world.device
        H, W = world.game.height, world.game.width
        static = torch.zeros(world.Hp, world.Wp, dtype=torch.int16)
        inside = static[MARGIN:MARGIN + H, MARGIN:MARGIN + W]
        inside[:] = palette.FLOOR
        inside[torch.from_numpy(world.game.wall)] = palette.WALL
        self.static = torch.cat([static.view(-1), torch.zeros(1, dtype=torch.int16)]).to(dev)
        offsets = []
        for f in range(4):
            df, dr = world.dflat[f].item(), world.dflat[(f + 1) % 4].item()
            offsets.append([(9 - i) * df + (j - 5) * dr for i in range(SIZE) for j in range(SIZE)])
        self.offsets = torch.tensor(offsets, dtype=torch.int64, device=dev)  # [4, 121]
        table = palette.colour_table(world.P)
        self.table = torch.from_numpy(table.reshape(-1, 3)).to(dev)  # [4 * NUM_CODES, 3]
        self.player_codes = (palette.AVATAR + torch.arange(world.P, device=dev) * 8)[None, :]

    def codes(self) -> torch.Tensor:
        """[B, N + 1] int16: the code of every (padded) cell of every world."""
        w = self.world
        B, A = w.B, w.A
        codes = self.static.expand(B, -1).clone()
        live, grass = w.live[:, :A], w.grass[:, :A]
        apple = torch.where(live, torch.where(grass, palette.APPLE_ON_GRASS, palette.APPLE_ON_FLOOR),
                            torch.where(grass, palette.GRASS, palette.FLOOR)).to(torch.int16)
        codes[:, w.apple_flat] = apple
        on_grass = torch.gather(codes, 1, w.pos) == palette.GRASS
        avatar = (self.player_codes + w.orient * 2 + on_grass).to(torch.int16)
        codes.scatter_(1, torch.where(w.alive, w.pos, w.N), avatar)
        codes[:, w.N] = 0
        codes += w.beam.to(torch.int16) * palette.BEAM
        return codes

    def render(self, codes: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(rgb [B, P, 11, 11, 3] uint8, apples_in_view [B, P] int16)."""
        w = self.world
        B, P = w.B, w.P
        codes = self.codes() if codes is None else codes
        idx = w.pos[:, :, None] + self.offsets[w.orient]  # [B, P, 121]
        seen = torch.gather(codes, 1, idx.view(B, -1)).view(B, P, SIZE * SIZE)
        seen = torch.where(w.alive[:, :, None], seen, 0)
        own = seen[:, :, SELF_CELL]
        is_avatar = (own >= palette.AVATAR) & (own < palette.SELF)
        seen[:, :, SELF_CELL] = torch.where(is_avatar, palette.SELF + (own - palette.AVATAR) % 2, own)
        base = seen % palette.BEAM
        apples = ((base == palette.APPLE_ON_GRASS) | (base == palette.APPLE_ON_FLOOR)).sum(
            -1, dtype=torch.int16)
        lookup = seen.long() + (w.orient * palette.NUM_CODES)[:, :, None]
        rgb = self.table[lookup].view(B, P, SIZE, SIZE, 3)
        return rgb, apples
