-- graphs/mastering/broadcast.lua — EBU R128 broadcast delivery.
--
--   local master = require "mastering.broadcast"
--   master(mix.master)                      -- -23 LUFS integrated, -1 dBTP
--
-- No tonal changes and no glue compression (broadcast wants the dynamics kept): a 20 Hz
-- high-pass against rumble, then loudness normalisation to -23 LUFS (EBU R128) with the
-- true-peak limiter at -1 dBTP. Options: target_lufs (default -23), ceiling_db (default -1).
return function(strip, opts)
  opts = opts or {}
  strip:highpass { hz = 20, slope_db = 24 }
  return strip:loudness { target_lufs = opts.target_lufs or -23, ceiling_db = opts.ceiling_db or -1,
                          gain_db = opts.gain_db }
end
