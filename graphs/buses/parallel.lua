-- graphs/buses/parallel.lua — parallel ("New York") compression.
--
--   local parallel = require "buses.parallel"
--   local crush = parallel("drums_crush", { gain_db = -8 })
--   kick:send(crush, { gain_db = -3 }); snare:send(crush, { gain_db = -3 })
--
-- Makes a bus that squashes whatever is sent to it (8:1 above -30 dBFS, fast attack, makeup
-- +12 dB) and sits under the dry signal at `gain_db` (default -10 dB). Returns the bus.
return function(name, opts)
  opts = opts or {}
  local bus = mix.bus(name)
  bus:comp { threshold_db = opts.threshold_db or -30, ratio = 8, attack_ms = 1, release_ms = 80,
             makeup_db = 12 }
  bus.gain_db = opts.gain_db or -10
  return bus
end
