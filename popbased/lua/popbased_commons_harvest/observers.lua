--[[ Read-only observer components for popbased's metrics. ]]

local args = require 'common.args'
local class = require 'common.class'

local meltingpot = 'meltingpot.lua.modules.'
local component = require(meltingpot .. 'component')
local component_registry = require(meltingpot .. 'component_registry')


--[[ `AppleCounter` (on the scene) reports WORLD.APPLES: the size of the group
that live apples join (`apples` in commons_harvest). ]]
local AppleCounter = class.Class(component.Component)

function AppleCounter:__init__(kwargs)
  kwargs = args.parse(kwargs, {
      {'name', args.default('AppleCounter')},
      {'group', args.default('apples'), args.stringType},
  })
  AppleCounter.Base.__init__(self, kwargs)
  self._config.group = kwargs.group
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


local allComponents = {
    AppleCounter = AppleCounter,
    ApplesInView = ApplesInView,
    ZapCounter = ZapCounter,
}

component_registry.registerAllComponents(allComponents)

return allComponents
