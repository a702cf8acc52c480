-- graphs/strips/vocal.lua — a lead vocal channel strip.
--
--   local vocal = require "strips.vocal"
--   vocal(vox, { air_db = 2, threshold_db = -20 })
--
-- High-pass at 80 Hz (24 dB/oct), a cut of mud at 300 Hz, presence at 3 kHz, air shelf at
-- 12 kHz (`air_db`, default 2 dB), then a 3:1 soft-knee compressor (`threshold_db`, default -20).
-- Returns the compressor handle, so its parameters can be automated.
return function(strip, opts)
  opts = opts or {}
  strip:highpass { hz = opts.highpass_hz or 80, slope_db = 24 }
  strip:eq {
    mix.bell { hz = 300, q = 1.0, gain_db = -2.5 },
    mix.bell { hz = 3000, q = 0.8, gain_db = opts.presence_db or 2 },
    mix.high_shelf { hz = 12000, gain_db = opts.air_db or 2 },
  }
  return strip:comp { threshold_db = opts.threshold_db or -20, ratio = 3, knee_db = 6,
                      attack_ms = 5, release_ms = 100 }
end
