"""B commons_harvest worlds as torch tensors, stepped with Melting Pot's rules.

One `step` follows dmlab2d's order (shared/reference/commons_harvest_rules.md, 2.1):
  1. wait-apples take their group from the current live-neighbour count (the group used
     by this step's regrowth is the previous one: the 2-step lag) and their grass dries
     when that count is 0;
  2. turns and moves one player at a time in a fresh random order per world (first
     claim wins, swaps never happen, eating on entry);
  3. zaps: cooldown, then every beam at once at the post-move positions (walls and live
     avatars block; each of the 3 lines hits at most its first avatar);
  4. respawn of players removed framesTillRespawn + 1 steps ago, on a random free cell
     of their group, facing a random way;
  5. regrowth of wait-apples with p[min(group, 3)]; one under a standing avatar is eaten
     at once;
  6. the zapped players leave the grid; the episode-ending draw.
Positions are flat indices into the map padded by MARGIN cells on each side (the view
gathers never leave it). Every random draw can be forced (`Forced`), which validation
uses to replay a real Melting Pot episode.

Host syncs. On a GPU every read of a device value by Python (`bool(x.any())`, `.item()`,
`.tolist()`, `nonzero`, boolean-mask indexing) waits for the queued kernels. A step reads the
device once: at its start, in one `.tolist()`, it reads every data-dependent size it needs
(the wait-apples eligible to regrow, the beams fired, the worlds with a player due to respawn,
whether any world's episode may end this step, and the caller's `fetch` values), all of them
known from the state at the step's start. With those sizes the sparse parts (beams, respawn,
regrowth) gather their rows by `compact` (on a GPU a cumsum and a scatter with a dump slot, no
sync; on the CPU `nonzero`, which is no sync there) and draw exactly the numbers they drew
before. What still syncs, because the random stream depends on it:
  - the regrowth draws one number per eligible wait-apple (`rand(K)`), and the respawn draws
    `rand(R, P)` for the R worlds with a player due: K and R come from the read above (a
    fixed-size draw would be sync-free but would change every result from the same seed);
  - the respawn's rejection rounds: each round draws again only while some world is unplaced,
    so each round ends with one read (`todo.any()`), on steps where someone respawns only
    (usually one round);
  - `cpu_draws`: draws on the CPU generator and copies them to the device (validation only).
The env (env.py) reads `done` only on steps where an episode may end (`StepEvents.may_end`)
and builds the summaries only when one did."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from popbased.env.fast.maps import DIRECTIONS, GameMap

MARGIN = 10
MIN_STEPS, INTERVAL, END_PROBABILITY, MAX_STEPS = 1000, 100, 0.15, 5000


@dataclass
class Forced:
    """Outcomes of random draws to use instead of drawing (None: draw)."""

    order: torch.Tensor | None = None
    """[B, P] int64: the move order (a permutation of the players per world)."""
    sprout: torch.Tensor | None = None
    """[B, A] bool: which eligible wait-apples regrow this step."""
    respawn_cell: torch.Tensor | None = None
    """[B, P] int64 padded flat cell of each respawning player."""
    respawn_orientation: torch.Tensor | None = None
    """[B, P] int64."""
    end: torch.Tensor | None = None
    """[B] bool: the episode-ending draw (only where the rule allows an end)."""


@dataclass
class StepEvents:
    """What happened in one step (all [B, P] unless said)."""

    reward: torch.Tensor
    """float32: apples eaten (moves and regrowth under a standing player)."""
    eaten: torch.Tensor
    """int16: edible_consumed events per player (= reward here)."""
    fired: torch.Tensor
    """bool: beams fired."""
    hits: torch.Tensor
    """[B, P, 3] int64: the player each line of each beam hit (-1 none)."""
    zapped: torch.Tensor
    """int16: hits received."""
    end: torch.Tensor
    """[B] bool: the episode's stochastic end or its 5000-step maximum."""
    eaten_neighbours: torch.Tensor | None = None
    """int16: live apples within radius 2 of the apple a player ate by moving this step (at
    the step's start, the apple itself excluded); -1 where it ate none that way."""
    may_end: bool = True
    """False when no world's episode could end this step (`end` is all False): known on the
    host without reading `end`."""
    fetched: list[int] = field(default_factory=list)
    """The values of World.step's `fetch` tensors, read with the step's one host read."""


def blend(mask: torch.Tensor, a, b: torch.Tensor) -> torch.Tensor:
    """torch.where(mask, a, b) in b's dtype; on the CPU, for large tensors, as arithmetic:
    there torch.where and masked_fill cost many times an add on these integer tensors."""
    dtype = b.dtype if isinstance(b, torch.Tensor) else a.dtype
    if mask.numel() <= 4096 or mask.device.type != "cpu":  # one op beats four when small
        return torch.where(mask, a, b).to(dtype)
    return b + mask.to(dtype) * (a - b)


class World:
    """The dynamic state of B worlds and the static tensors of their map."""

    def __init__(self, game: GameMap, num_worlds: int, action_table, *, device="cpu",
                 seed: int = 0, cpu_draws: bool = False):
        self.game = game
        self.B, self.P, self.A = num_worlds, game.players, game.num_apples
        self.device = torch.device(device)
        self.cpu_draws = cpu_draws
        """Draw every random number on the CPU and move it to the device: the same draws on
        every device from the same seed (CUDA's generator gives other numbers than the CPU's),
        so a device's worlds can be checked bit for bit against the CPU's. Slower on a GPU."""
        self.gen = torch.Generator(device="cpu" if cpu_draws else self.device)
        self.gen.manual_seed(seed)
        dev = self.device
        H, W = game.height, game.width
        if not (game.wall[0].all() and game.wall[-1].all() and game.wall[:, 0].all()
                and game.wall[:, -1].all()):
            raise ValueError("the fast env needs a map with a wall all around")
        self.Hp, self.Wp = H + 2 * MARGIN, W + 2 * MARGIN
        self.N = self.Hp * self.Wp
        wall = torch.zeros(self.N + 1, dtype=torch.bool)
        wall.view(-1)[:self.N].view(self.Hp, self.Wp)[MARGIN:MARGIN + H, MARGIN:MARGIN + W] = \
            torch.from_numpy(game.wall)
        self.wall = wall.to(dev)
        self.dflat = torch.tensor([dy * self.Wp + dx for dy, dx in DIRECTIONS.tolist()], device=dev)
        cells = torch.from_numpy(game.apple_cells)
        self.apple_flat = self.flat(cells[:, 0], cells[:, 1]).to(dev)
        self.apple_flat_all = torch.cat([self.apple_flat, torch.tensor([self.N], device=dev)])
        apple_at = torch.full((self.N + 1,), self.A, dtype=torch.int64)
        apple_at[self.apple_flat.cpu()] = torch.arange(self.A)
        self.apple_at = apple_at.to(dev)
        self.neighbours = torch.from_numpy(game.neighbours).to(dev)
        # [A + 1, A]: row j, column i is 1 when apple j is in apple i's disc (a matmul
        # counts live neighbours faster than a gather of the neighbour table).
        matrix = torch.zeros(self.A + 1, self.A)
        for i, row in enumerate(game.neighbours.tolist()):
            for j in row:
                matrix[j, i] = 1.0
        matrix[self.A] = 0.0
        self.neighbour_matrix = matrix.to(dev)
        # The same with a zero column for the never-live spare apple slot A: the apple phase
        # runs on all A + 1 columns (contiguous tensors are faster to update).
        self.neighbour_matrix_all = torch.cat([matrix, torch.zeros(self.A + 1, 1)], 1).to(dev)
        self.regrowth = torch.tensor(game.regrowth, dtype=torch.float64, device=dev)
        self.regrowth32 = self.regrowth.float()
        self.spawn_cells = [self.flat(torch.from_numpy(c) // W, torch.from_numpy(c) % W).to(dev)
                            for c in game.spawn_cells]
        for c in self.spawn_cells:
            if bool((self.apple_at[c] < self.A).any()):
                raise ValueError("a spawn point on an apple cell")
        self.initial_group = game.initial_group.tolist()
        self.group_players = [torch.tensor([p for p in range(self.P) if self.initial_group[p] == g],
                                           dtype=torch.int64, device=dev)
                              for g in range(len(self.spawn_cells))]
        """Per spawn group, the players starting there (an index tensor built once: a list
        index would copy to the device at every reset)."""
        # [P, max cells]: each player's respawn cells (padded by repeating), and their counts.
        groups = [self.spawn_cells[g] for g in game.respawn_group.tolist()]
        most = max(c.numel() for c in groups)
        self.spawn_table = torch.stack([c[torch.arange(most, device=dev) % c.numel()] for c in groups])
        self.spawn_count = torch.tensor([c.numel() for c in groups], device=dev)[None, :]
        self.respawn_group = game.respawn_group.tolist()
        table = [[a.get("move", 0), a.get("turn", 0), a.get("fireZap", 0)] for a in action_table]
        self.action_table = torch.tensor(table, dtype=torch.int64, device=dev)
        self.action_columns = [self.action_table[:, i].contiguous() for i in range(3)]
        L = game.beam_length
        lines = []
        for f in range(4):
            r = (f + 1) % 4
            df, dr = self.dflat[f].item(), self.dflat[r].item()
            left = [-dr + d * df for d in range(L)]
            right = [dr + d * df for d in range(L)]
            centre = [d * df for d in range(1, L + 1)]
            lines.append([left, right, centre])
        self.beam_offsets = torch.tensor(lines, dtype=torch.int64, device=dev)  # [4, 3, L]
        self.bidx = torch.arange(self.B, device=dev)
        self.sync_free = self.device.type != "cpu"
        """Gather the sparse rows (`compact`) without a host sync: True on a GPU; on the CPU
        `nonzero` is faster and syncs nothing (tests set it there to check both ways)."""
        self._allocate()

    # ------------------------------------------------------------------ state
    def flat(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Map (y, x) -> padded flat index."""
        return (y + MARGIN) * self.Wp + (x + MARGIN)

    def unflat(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return idx // self.Wp - MARGIN, idx % self.Wp - MARGIN

    def _allocate(self) -> None:
        B, P, A, dev = self.B, self.P, self.A, self.device
        self.pos = torch.zeros(B, P, dtype=torch.int64, device=dev)
        self.orient = torch.zeros(B, P, dtype=torch.int64, device=dev)
        self.alive = torch.zeros(B, P, dtype=torch.bool, device=dev)
        self.wait = torch.zeros(B, P, dtype=torch.int16, device=dev)
        self.timer = torch.zeros(B, P, dtype=torch.int16, device=dev)
        self.live = torch.zeros(B, A + 1, dtype=torch.bool, device=dev)
        self.group = torch.zeros(B, A + 1, dtype=torch.int16, device=dev)
        self.grass = torch.ones(B, A + 1, dtype=torch.bool, device=dev)
        self.t = torch.zeros(B, dtype=torch.int32, device=dev)
        self.occ = torch.zeros(B, self.N + 1, dtype=torch.int8, device=dev)
        self.beam = torch.zeros(B, self.N + 1, dtype=torch.bool, device=dev)

    def rand(self, *shape) -> torch.Tensor:
        if self.cpu_draws:
            return torch.rand(*shape, generator=self.gen).to(self.device)
        return torch.rand(*shape, generator=self.gen, device=self.device)

    def compact(self, mask: torch.Tensor, size: int) -> torch.Tensor:
        """[size] int64: the indices of the True entries of the 1-D bool `mask`, in order, where
        `size` is their number (read beforehand): torch.nonzero's result. Sync-free when
        `sync_free` (each True's rank by cumsum, scattered into a dump-padded buffer)."""
        if not self.sync_free:
            return torch.nonzero(mask).flatten()
        n = mask.numel()
        rank = torch.cumsum(mask, 0) - 1
        out = torch.empty(size + 1, dtype=torch.int64, device=mask.device)
        out.scatter_(0, torch.where(mask, rank, size), torch.arange(n, device=mask.device))
        return out[:size]

    def reset(self, mask: torch.Tensor | None = None) -> None:
        """Starts new episodes in the worlds of `mask` [B] bool (all when None)."""
        B, P, dev = self.B, self.P, self.device
        m = torch.ones(B, dtype=torch.bool, device=dev) if mask is None else mask
        mc = m[:, None]
        self.live[:, :self.A] |= mc
        self.group *= (~mc).to(self.group.dtype)
        self.grass |= mc
        self.t *= (~m).to(self.t.dtype)
        self.timer *= (~mc).to(self.timer.dtype)
        self.wait *= (~mc).to(self.wait.dtype)
        self.beam &= ~mc
        self.occ.masked_fill_(mc, 0)
        pos = self.pos.clone()
        for cells, players in zip(self.spawn_cells, self.group_players):
            if players.numel() == 0:
                continue
            if players.numel() > cells.numel():
                raise ValueError(f"{players.numel()} players for {cells.numel()} spawn points")
            pick = torch.argsort(self.rand(B, cells.numel()), dim=1)[:, :players.numel()]
            pos[:, players] = cells[pick]
        self.pos[:] = blend(mc, pos, self.pos)
        orient = (self.rand(B, P) * 4).long().clamp_(max=3)
        self.orient[:] = blend(mc, orient, self.orient)
        self.alive |= mc
        players = torch.arange(1, P + 1, dtype=torch.int8, device=dev).expand(B, P)
        self.occ.scatter_(1, blend(mc, self.pos, self.N), players * mc)
        self.occ[:, self.N] = 0

    def counts(self) -> torch.Tensor:
        """[B, A] int16: live apples in each apple's radius-2 disc (itself excluded)."""
        return (self.live.to(torch.float32) @ self.neighbour_matrix).to(torch.int16)

    # ------------------------------------------------------------------ step
    def step(self, actions: torch.Tensor, forced: Forced | None = None,
             fetch: tuple[torch.Tensor, ...] = ()) -> StepEvents:
        """Advances every world one step; actions [B, P] int64 (indices of the action table).
        `fetch`: scalar tensors (bool or integer) to read with the step's one host read (their
        values come back in StepEvents.fetched), so that the caller needs no read of its own."""
        forced = forced or Forced()
        B, P, A, dev, bidx = self.B, self.P, self.A, self.device, self.bidx
        flat_actions = actions.reshape(-1)
        move, turn, fire = (c.index_select(0, flat_actions).view(B, P) for c in self.action_columns)
        fire = fire > 0
        reward = torch.zeros(B, P + 1, dtype=torch.float32, device=dev)
        self.beam.zero_()
        self.t += 1

        # What the step's sparse parts need, from the state at its start (nothing before
        # their phase changes it): the wait-apples eligible to regrow (phase 5), the beams
        # fired (3), the players due to respawn (4: `wait` is read by nothing before), the
        # worlds whose episode may end (6); their sizes in the step's one host read.
        alive = self.alive
        live_start = self.live.clone()  # all A + 1 columns (the last: a spare, never live)
        old_group = self.group.clone()
        waiting = ~live_start
        eligible = waiting & (old_group >= 0)
        eligible[:, A] = False
        cooling = alive & (self.timer > 0)
        fired = alive & ~cooling & fire
        self.wait += (~alive).to(torch.int16)
        due = ~alive & (self.wait >= self.game.frames_till_respawn + 1)
        due_worlds = due.any(1)
        may_end = (self.t >= MIN_STEPS) & ((self.t + 1) % INTERVAL == 0)
        can_end = may_end | (self.t >= MAX_STEPS)
        sizes = torch.stack([eligible.sum(), fired.sum(), due_worlds.sum(), can_end.any().long(),
                             *(torch.as_tensor(f, device=dev).long() for f in fetch)]).tolist()
        n_eligible, n_fired, n_due_worlds, any_end = sizes[:4]

        # 1. wait-apples: group <- count (the previous group drives this step's regrowth).
        count = (self.live.to(torch.float32) @ self.neighbour_matrix_all).to(torch.int16)
        self.group.copy_(blend(waiting, count, old_group))
        self.grass.copy_((waiting & (count > 0)) | (live_start & self.grass))

        # 2. turns and moves, one player at a time in a random order. A player's turn and
        # target cell do not depend on the others; only the occupancy check is sequential.
        # Each cell is entered at most once per step, so eating is settled after the loop.
        order = forced.order if forced.order is not None else torch.argsort(self.rand(B, P), dim=1)
        self.orient[:] = (self.orient + alive * turn) & 3
        target = self.pos + self.dflat[(self.orient + move - 1) & 3]
        want = alive & (move > 0) & ~self.wall[target]
        base = (bidx * (self.N + 1))[:, None]
        here_o = (self.pos + base).gather(1, order)
        target_o = (target + base).gather(1, order)
        want_o = want.gather(1, order)
        code_o = (order + 1).to(torch.int8)
        spare = base[:, 0] + self.N
        occ = self.occ.view(-1)
        go_o = torch.empty_like(want_o)
        for k in range(P):
            t = target_o[:, k]
            go = want_o[:, k] & (occ[t] == 0)
            occ[blend(go, here_o[:, k], spare)] = 0
            occ[blend(go, t, spare)] = code_o[:, k]
            go_o[:, k] = go
        self.occ[:, self.N] = 0
        moved = torch.zeros_like(want).scatter_(1, order, go_o)
        self.pos[:] = blend(moved, target, self.pos)
        apple = blend(moved, self.apple_at[self.pos], A)
        eat = torch.gather(self.live, 1, apple)
        eaten_neighbours = torch.where(eat, count.gather(1, apple), -1)
        reward[:, :P] += eat
        gone = blend(eat, apple, A)
        self.live.scatter_(1, gone, False)
        self.group.scatter_(1, gone, -1)
        self.live[:, A] = False

        # 3. zaps: the cooling timer, then all beams at the post-move positions.
        self.timer -= cooling.to(torch.int16)
        self.timer[:] = blend(fired, self.game.cooldown, self.timer)
        hits, zapped = self.beams(fired, n_fired)

        # 4. respawn (`wait` counted at the step's start).
        if n_due_worlds:
            self._respawn(due, forced, due_worlds, n_due_worlds)

        # 5. regrowth (an apple regrowing under a standing avatar is eaten at once).
        if forced.sprout is not None:
            sprout = eligible & torch.cat([forced.sprout, torch.zeros_like(forced.sprout[:, :1])], 1)
        else:  # draws only for the eligible wait-apples
            which = self.compact(eligible.view(-1), n_eligible)
            p = self.regrowth32.index_select(0, old_group.view(-1)[which].clamp(0, 3).to(torch.int32))
            sprout = torch.zeros_like(eligible)
            sprout.view(-1)[which] = self.rand(n_eligible) < p
        standing = self.occ.index_select(1, self.apple_flat_all)  # [B, A + 1] player + 1
        instant = sprout & (standing > 0)
        self.live |= sprout & ~instant
        self.group.copy_(blend(instant, -1, self.group))
        reward.scatter_add_(1, blend(instant, standing.long() - 1, P), instant.float())
        reward = reward[:, :P]

        # 6. removal of the zapped, then the episode's end.
        out = zapped > 0
        self.occ.scatter_(1, blend(out, self.pos, self.N), torch.zeros_like(self.occ[:, :P]))
        self.occ[:, self.N] = 0
        self.alive &= ~out
        self.wait[:] = blend(out, 0, self.wait)
        draw = forced.end if forced.end is not None else self.rand(B) < END_PROBABILITY
        end = (may_end & draw) | (self.t >= MAX_STEPS)
        return StepEvents(reward, reward.to(torch.int16), fired, hits, zapped, end, eaten_neighbours,
                          may_end=bool(any_end), fetched=sizes[4:])

    def beams(self, fired: torch.Tensor, n_fired: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Casts the beams of the players in `fired` [B, P] against the current occupancy;
        draws them into self.beam; returns (hits [B, P, 3] target or -1, zapped [B, P]).
        Only the beams fired are traced (as flat indices into all worlds' cells); `n_fired`:
        their number (None: read here)."""
        B, P, dev = self.B, self.P, self.device
        L = self.game.beam_length
        if n_fired is None:
            n_fired = int(fired.sum())
        hits = torch.full((B * P, 3), -1, dtype=torch.int64, device=dev)
        if n_fired == 0:
            return hits.view(B, P, 3), torch.zeros(B, P, dtype=torch.int16, device=dev)
        shooters = self.compact(fired.view(-1), n_fired)  # seats b * P + p that fired
        world = shooters // P
        offsets = self.beam_offsets.view(4, 3 * L).index_select(0, self.orient.view(-1)[shooters])
        cells = (self.pos.view(-1)[shooters][:, None] + offsets).clamp_(0, self.N - 1)  # [K, 3L]
        flat = cells + (world * (self.N + 1))[:, None]
        occupant = self.occ.view(-1)[flat].view(-1, 3, L)
        blocked = self.wall[cells].view(-1, 3, L) | (occupant > 0)
        before = blocked.cumsum(-1)
        first = blocked & (before == 1)
        drawn = before == 0
        hit = ((first & (occupant > 0)) * occupant.long()).amax(-1) - 1  # [K, 3]
        spare = (world * (self.N + 1) + self.N)[:, None, None]  # the world's never-drawn cell N
        self.beam.view(-1)[torch.where(drawn, flat.view(-1, 3, L), spare)] = True
        self.beam[:, self.N] = False
        hits[shooters] = hit
        hits = hits.view(B, P, 3)
        zapped = torch.zeros(B, P + 1, dtype=torch.int16, device=dev)
        target = blend(hits >= 0, hits, P).view(B, -1)
        zapped.scatter_add_(1, target, torch.ones_like(target, dtype=torch.int16))
        return hits, zapped[:, :P]


    def _respawn(self, due: torch.Tensor, forced: Forced, due_worlds: torch.Tensor | None = None,
                 n_due_worlds: int | None = None) -> None:
        """Teleports the due players to uniformly random free cells of their groups, with a
        random orientation. Melting Pot places them one after another, each on a cell free
        at that moment: jointly, a uniform draw of distinct free cells. That is drawn by
        rejection (every due player of a world draws again until all their cells are free
        and distinct), then one player at a time for worlds still unplaced after a few rounds.
        `due_worlds` [B]: due.any(1); `n_due_worlds`: its count (None: read here). Each rejection round
        ends with a host read (whether to draw again: the random stream depends on it)."""
        B, P = self.B, self.P
        if due_worlds is None:
            due_worlds = due.any(1)
        if n_due_worlds is None:
            n_due_worlds = int(due_worlds.sum())
        orient = forced.respawn_orientation
        if orient is None:
            orient = (self.rand(B, P) * 4).long().clamp_(max=3)
        if forced.respawn_cell is not None:
            cell, placed = forced.respawn_cell, due
        else:
            cell = self.pos.clone()
            rows = self.compact(due_worlds, n_due_worlds)  # only the worlds with someone due
            d = due[rows]
            sub = cell[rows]
            todo = torch.ones(n_due_worlds, dtype=torch.bool, device=self.device)
            flat = self.occ.view(-1)
            base = rows[:, None] * (self.N + 1)
            for _ in range(8):
                pick = (self.rand(n_due_worlds, P) * self.spawn_count).long().clamp_(max=self.spawn_count - 1)
                draw = torch.gather(self.spawn_table, 1, pick.t()).t()  # [R, P]
                free = flat[base + draw] == 0
                same = (draw[:, :, None] == draw[:, None, :]) & d[:, :, None] & d[:, None, :]
                ok = (~d | (free & (same.sum(-1) == 1))).all(1) & todo
                sub = blend(ok[:, None] & d, draw, sub)
                todo &= ~ok
                left = bool(todo.any())  # the one read per round
                if not left:
                    break
            cell[rows] = sub
            pending = torch.zeros(B, dtype=torch.bool, device=self.device)
            pending[rows] = todo
            placed = due & ~pending[:, None]
            if left:
                for p in range(P):
                    d = due[:, p] & pending
                    cells = self.spawn_cells[self.respawn_group[p]]
                    free = self.occ[:, cells] == 0
                    choice = cells[torch.where(free, self.rand(B, cells.numel()), -1.0).argmax(1)]
                    ok = d & free.any(1)
                    cell[:, p] = torch.where(ok, choice, cell[:, p])
                    self.occ[self.bidx, torch.where(ok, choice, self.N)] = torch.where(ok, p + 1, 0).to(torch.int8)
                    self.occ[:, self.N] = 0
                    placed[:, p] |= ok
        self.pos[:] = blend(placed, cell, self.pos)
        self.orient[:] = blend(placed, orient, self.orient)
        self.alive |= placed
        self.wait[:] = blend(placed, 0, self.wait)
        codes = (torch.arange(1, P + 1, device=self.device, dtype=torch.int8)).expand(B, P)
        self.occ.scatter_(1, blend(placed, cell, self.N), codes * placed)
        self.occ[:, self.N] = 0

    def ready_to_shoot(self) -> torch.Tensor:
        """[B, P] float32: Melting Pot's READY_TO_SHOOT."""
        ready = (1.0 - self.timer.float() / self.game.cooldown).clamp(min=0.0)
        return torch.where(self.alive, ready, 0.0)

    def apples(self) -> torch.Tensor:
        """[B] live apples on the map."""
        return self.live[:, :self.A].sum(1)
