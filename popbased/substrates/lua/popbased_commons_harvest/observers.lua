--[[ Read-only observer components for popbased's metrics. ]]

local args = require 'common.args'
local class = require 'common.class'
local tensor = require 'system.tensor'

local meltingpot = 'meltingpot.lua.modules.'
local component = require(meltingpot .. 'component')
local component_registry = require(meltingpot .. 'component_registry')


--[[ `AppleCounter` (on the scene) reports WORLD.APPLES: the size of the group
that live apples join (`apples` in commons_harvest). Given `numApples` (> 0), it
also reports WORLD.APPLES_LIVE: for every apple (every object with a
`DensityRegrow`), 1 while it is live (state `liveState`), else 0, in row-major
order of their cells (y, then x: the order of popbased's fast-env GameMap
`apple_cells`), from which popbased counts the live apples of each patch. The
apples are found and sorted once per episode; it only reads state. ]]
local AppleCounter = class.Class(component.Component)

function AppleCounter:__init__(kwargs)
  kwargs = args.parse(kwargs, {
      {'name', args.default('AppleCounter')},
      {'group', args.default('apples'), args.stringType},
      {'numApples', args.default(0), args.numberType},
      {'liveState', args.default('apple'), args.stringType},
  })
  AppleCounter.Base.__init__(self, kwargs)
  self._config.group = kwargs.group
  self._config.numApples = kwargs.numApples
  self._config.liveState = kwargs.liveState
end

function AppleCounter:reset()
  self._apples = nil
end

function AppleCounter:_sortedApples()
  if self._apples == nil then
    local keyed = {}
    local simulation = self.gameObject.simulation
    for _, apple in ipairs(simulation:getAllGameObjectsWithComponent('DensityRegrow')) do
      local position = apple:getPosition()
      keyed[#keyed + 1] = {x = position[1], y = position[2], apple = apple}
    end
    assert(#keyed == self._config.numApples,
           'AppleCounter: ' .. #keyed .. ' apples on the map, numApples = ' ..
           self._config.numApples)
    table.sort(keyed, function(a, b)
      return a.y < b.y or (a.y == b.y and a.x < b.x)
    end)
    self._apples = {}
    for i, entry in ipairs(keyed) do
      self._apples[i] = entry.apple
    end
  end
  return self._apples
end

function AppleCounter:_live()
  local out = {}
  for i, apple in ipairs(self:_sortedApples()) do
    out[i] = apple:getState() == self._config.liveState and 1 or 0
  end
  return tensor.DoubleTensor(out)
end

function AppleCounter:addObservations(tileSet, world, observations)
  observations[#observations + 1] = {
      name = 'WORLD.APPLES',
      type = 'Doubles',
      shape = {},
      func = function(grid)
        return self.gameObject.simulation:getGroupCount(self._config.group)
      end
  }
  if self._config.numApples > 0 then
    observations[#observations + 1] = {
        name = 'WORLD.APPLES_LIVE',
        type = 'tensor.DoubleTensor',
        shape = {self._config.numApples},
        func = function(grid)
          return self:_live()
        end
    }
  end
end


--[[ `ApplesInView` (on an avatar) reports <i>.APPLES_IN_VIEW: live apples in the
avatar's partial observation window (0 while the avatar is not alive). ]]
local ApplesInView = class.Class(component.Component)

function ApplesInView:__init__(kwargs)
  kwargs = args.parse(kwargs, {
      {'name', args.default('ApplesInView')},
      {'layer', args.default('lowerPhysical'), args.stringType},
      {'liveState', args.default('apple'), args.stringType},
  })
  ApplesInView.Base.__init__(self, kwargs)
  self._config.layer = kwargs.layer
  self._config.liveState = kwargs.liveState
end

function ApplesInView:_count()
  local avatar = self.gameObject:getComponent('Avatar')
  if not avatar:isAlive() then
    return 0
  end
  local count = 0
  for _, object in ipairs(avatar:queryPartialObservationWindow(self._config.layer)) do
    if object:getState() == self._config.liveState then
      count = count + 1
    end
  end
  return count
end

function ApplesInView:addObservations(tileSet, world, observations)
  local playerIndex = self.gameObject:getComponent('Avatar'):getIndex()
  observations[#observations + 1] = {
      name = tostring(playerIndex) .. '.APPLES_IN_VIEW',
      type = 'Doubles',
      shape = {},
      func = function(grid)
        return self:_count()
      end
  }
end


--[[ `ZapCounter` (on an avatar with a Zapper) reports <i>.ZAPS_FIRED, the beams
fired this episode. The Zapper sets its cooling timer to `cooldownTime` only on
the frame it fires, and the timer never stays there two frames while the avatar
is alive, so a fire is a frame whose timer is `cooldownTime` after a frame
where it was not. The check runs after the Zapper's own updater (priority 140).
]]
local ZapCounter = class.Class(component.Component)

function ZapCounter:__init__(kwargs)
  kwargs = args.parse(kwargs, {
      {'name', args.default('ZapCounter')},
  })
  ZapCounter.Base.__init__(self, kwargs)
end

function ZapCounter:reset()
  self._fired = 0
  self._lastTimer = 0
end

function ZapCounter:registerUpdaters(updaterRegistry)
  local check = function()
    local zapper = self.gameObject:getComponent('Zapper')
    local timer = zapper._coolingTimer or 0
    if timer > 0 and timer == zapper._config.cooldownTime
        and self._lastTimer ~= timer then
      self._fired = self._fired + 1
    end
    self._lastTimer = timer
  end
  updaterRegistry:registerUpdater{updateFn = check, priority = 2}
end

function ZapCounter:addObservations(tileSet, world, observations)
  local playerIndex = self.gameObject:getComponent('Avatar'):getIndex()
  observations[#observations + 1] = {
      name = tostring(playerIndex) .. '.ZAPS_FIRED',
      type = 'Doubles',
      shape = {},
      func = function(grid)
        return self._fired
      end
  }
end


--[[ `StateDump` (on the scene; added only for validation, never for training)
reports WORLD.POPBASED_STATE, the world state the fast re-implementation needs,
as one flat vector of doubles:

  [1]                    the episode-ending component's step counter `_t`
  5 per player i         x, y, orientation (N=0 E=1 S=2 W=3), alive (1/0),
                         the Zapper's cooling timer
  5 per apple            x, y, state (-2 live, -1 appleWait, k for appleWait_k),
                         its Neighborhoods count, its grass (1 grass, 0 dessicated)

It only reads state. ]]
local StateDump = class.Class(component.Component)

function StateDump:__init__(kwargs)
  kwargs = args.parse(kwargs, {
      {'name', args.default('StateDump')},
      {'numPlayers', args.numberType},
      {'numApples', args.numberType},
  })
  StateDump.Base.__init__(self, kwargs)
  self._config.numPlayers = kwargs.numPlayers
  self._config.numApples = kwargs.numApples
end

local _ORIENTATION_TO_INT = {N = 0, E = 1, S = 2, W = 3}
local _WAIT_PREFIX = string.len('appleWait_')

function StateDump:_dump()
  local simulation = self.gameObject.simulation
  local out = {}
  local ending = self.gameObject:getComponent('StochasticIntervalEpisodeEnding')
  out[1] = ending._t
  for i = 1, self._config.numPlayers do
    local object = simulation:getAvatarFromIndex(i)
    local position = object:getPosition()
    out[#out + 1] = position[1]
    out[#out + 1] = position[2]
    out[#out + 1] = _ORIENTATION_TO_INT[object:getOrientation()]
    out[#out + 1] = object:getComponent('Avatar'):isAlive() and 1 or 0
    out[#out + 1] = object:getComponent('Zapper')._coolingTimer or 0
  end
  local counts = self.gameObject:getComponent('Neighborhoods'):getPieceToNumNeighbors()
  for _, apple in ipairs(simulation:getAllGameObjectsWithComponent('DensityRegrow')) do
    local position = apple:getPosition()
    local state = apple:getState()
    local code
    if state == 'apple' then
      code = -2
    elseif state == 'appleWait' then
      code = -1
    else
      code = tonumber(string.sub(state, _WAIT_PREFIX + 1))
    end
    local grass = apple:getComponent('DensityRegrow')._underlyingGrass
    out[#out + 1] = position[1]
    out[#out + 1] = position[2]
    out[#out + 1] = code
    out[#out + 1] = counts[apple:getPiece()] or -1
    out[#out + 1] = (grass and grass:getState() == 'grass') and 1 or 0
  end
  return tensor.DoubleTensor(out)
end

function StateDump:addObservations(tileSet, world, observations)
  observations[#observations + 1] = {
      name = 'WORLD.POPBASED_STATE',
      type = 'tensor.DoubleTensor',
      shape = {1 + 5 * self._config.numPlayers + 5 * self._config.numApples},
      func = function(grid)
        return self:_dump()
      end
  }
end


local allComponents = {
    AppleCounter = AppleCounter,
    ApplesInView = ApplesInView,
    ZapCounter = ZapCounter,
    StateDump = StateDump,
}

component_registry.registerAllComponents(allComponents)

return allComponents
