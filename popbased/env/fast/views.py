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
from popbased.env.fast.world import MARGIN, World, blend

SIZE = 11
SELF_CELL = 9 * SIZE + 5
CHUNK = 256  # worlds per view chunk on the CPU


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
        # window[orientation * N + cell]: the 121 cells a player there sees; the extra last
        # row points at padding cell 0 (black): the view of a removed player.
        cells = torch.arange(world.N, device=dev)
        window = (cells[None, :, None] + self.offsets[:, None, :]).clamp_(0, world.N - 1)
        self.window = torch.cat([window.reshape(4 * world.N, SIZE * SIZE),
                                 torch.zeros(1, SIZE * SIZE, dtype=torch.int64, device=dev)])
        self.removed_row = 4 * world.N
        table = palette.colour_table(world.P)
        self.table = torch.from_numpy(table.reshape(-1, 3)).to(dev)  # [4 * NUM_CODES, 3]
        # The same table with each colour packed in one int32 (RGB + a zero byte): one
        # 4-byte gather per cell is faster than a gather of 3-byte rows.
        packed = torch.zeros(self.table.shape[0], 4, dtype=torch.uint8, device=dev)
        packed[:, :3] = self.table
        self.packed = packed.view(torch.int32).view(-1)
        self.player_codes = (palette.AVATAR + torch.arange(world.P, device=dev) * 8)[None, :]

    def codes(self, sl: slice = slice(None)) -> torch.Tensor:
        """[b, N + 1] int16: the code of every (padded) cell of the worlds in `sl`."""
        w = self.world
        beam, pos, alive = w.beam[sl], w.pos[sl], w.alive[sl]
        codes = self.static + beam.to(torch.int16) * palette.BEAM
        live, grass = w.live[sl], w.grass[sl]  # all A + 1 columns (the spare goes to cell N)
        g, l = grass.to(torch.int16), live.to(torch.int16)
        apple = palette.FLOOR + g + l * (palette.APPLE_ON_FLOOR - palette.FLOOR - 2 * g)  # 1, 2, 4, 5
        apple = apple + beam.index_select(1, w.apple_flat_all) * palette.BEAM
        codes.index_copy_(1, w.apple_flat_all, apple.to(torch.int16))
        under = torch.gather(codes, 1, pos)
        on_grass = (under & (palette.BEAM - 1)) == palette.GRASS
        avatar = self.player_codes + w.orient[sl] * 2 + on_grass + (under & palette.BEAM)
        codes.scatter_(1, blend(alive, pos, w.N), avatar.to(torch.int16))
        codes[:, w.N] = 0
        return codes

    def render(self, codes: torch.Tensor | None = None, apples: bool = False):
        """rgb [B, P, 11, 11, 3] uint8 (and apples_in_view [B, P] int16 when `apples`).

        The rgb is a view of packed 4-byte colours (its last axis has stride 1 and the
        pixel stride is 4): the same values without a copy; callers that need contiguous
        memory copy it. On the CPU the worlds go in chunks that stay in cache."""
        w = self.world
        out = torch.empty(w.B, w.P, SIZE * SIZE, dtype=torch.int32, device=w.device)
        if codes is not None or apples or w.device.type != "cpu" or w.B <= CHUNK:
            count = self._render(slice(None), codes, apples, out)
        else:
            for start in range(0, w.B, CHUNK):
                sl = slice(start, start + CHUNK)
                self._render(sl, None, False, out[sl])
        rgb = out.view(torch.uint8).view(w.B, w.P, SIZE, SIZE, 4)[..., :3]
        return (rgb, count) if apples else rgb

    def _render(self, sl: slice, codes: torch.Tensor | None, apples: bool, out: torch.Tensor):
        w = self.world
        P = w.P
        codes = self.codes(sl) if codes is None else codes
        B = codes.shape[0]
        alive, orient = w.alive[sl], w.orient[sl]
        row = blend(alive, orient * w.N + w.pos[sl], self.removed_row)
        idx = self.window.index_select(0, row.view(-1)).view(B, P * SIZE * SIZE)
        seen = torch.gather(codes, 1, idx).view(B, P, SIZE * SIZE)
        own = seen[:, :, SELF_CELL]
        is_avatar = (own >= palette.AVATAR) & (own < palette.SELF)
        seen[:, :, SELF_CELL] = blend(is_avatar, palette.SELF + (own - palette.AVATAR) % 2, own)
        lookup = seen.to(torch.int32) + (orient.to(torch.int32) * palette.NUM_CODES)[:, :, None]
        torch.index_select(self.packed, 0, lookup.view(-1), out=out.view(-1))
        if not apples:
            return None
        base = seen & (palette.BEAM - 1)
        count = ((base == palette.APPLE_ON_GRASS) | (base == palette.APPLE_ON_FLOOR)).sum(-1, dtype=torch.int16)
        return torch.where(alive, count, 0)
