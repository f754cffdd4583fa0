--[[ popbased's commons_harvest level: Melting Pot's own level plus components
that expose world state as observations, so metrics are read from the world:

  WORLD.APPLES          number of live apples on the map this frame.
  WORLD.APPLES_LIVE     1 / 0 for each apple (live or not), in row-major order of
                        their cells: popbased counts each patch's live apples.
  <i>.APPLES_IN_VIEW    live apples inside player i's partial observation window.
  <i>.ZAPS_FIRED        beams player i has fired this episode (hit or miss).

The game's dynamics are untouched: these components only read state.
]]

local meltingpot = 'meltingpot.lua.modules.'
local api_factory = require(meltingpot .. 'api_factory')
local simulation = require(meltingpot .. 'base_simulation')

-- Registers Melting Pot's generic components and commons_harvest's own
-- (Neighborhoods, DensityRegrow) exactly as the stock level does.
local component_library = require(meltingpot .. 'component_library')
local avatar_library = require(meltingpot .. 'avatar_library')
local commons_harvest = require 'meltingpot.lua.levels.commons_harvest.components'
local observers = require 'observers'

return api_factory.apiFactory{
    Simulation = simulation.BaseSimulation,
    settings = {
        spriteSize = 8,
        maxEpisodeLengthFrames = 1000,
        simulation = {},
    }
}
