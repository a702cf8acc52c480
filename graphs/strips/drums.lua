-- graphs/strips/drums.lua — a drum bus: punch and glue.
--
--   local drums = require "strips.drums"
--   drums(drum_bus)
--
-- Low-end weight at 60 Hz, a boxiness cut at 400 Hz, snap at 5 kHz, then a slow-attack
-- 4:1 compressor that lets the transients through (30 ms attack, 120 ms release).
-- Options: threshold_db (default -16). Returns the compressor handle.
return function(strip, opts)
  opts = opts or {}
  strip:eq {
    mix.bell { hz = 60, q = 0.9, gain_db = 2 },
    mix.bell { hz = 400, q = 1.2, gain_db = -3 },
    mix.bell { hz = 5000, q = 0.8, gain_db = 1.5 },
  }
  return strip:comp { threshold_db = opts.threshold_db or -16, ratio = 4, attack_ms = 30,
                      release_ms = 120, knee_db = 3 }
end
