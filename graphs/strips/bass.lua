-- graphs/strips/bass.lua — a bass channel strip, optionally ducking under the kick.
--
--   local bass = require "strips.bass"
--   bass(bass_track, { duck = kick })
--
-- High-pass at 30 Hz (24 dB/oct), a 250 Hz mud cut, then a 4:1 compressor; with `duck`
-- (a track or bus) the compressor is keyed by it, so the bass makes room for the kick.
-- Options: duck, threshold_db (default -22). Returns the compressor handle.
return function(strip, opts)
  opts = opts or {}
  strip:highpass { hz = 30, slope_db = 24 }
  strip:eq { mix.bell { hz = 250, q = 1.2, gain_db = -3 } }
  return strip:comp { threshold_db = opts.threshold_db or -22, ratio = 4, attack_ms = 3,
                      release_ms = 100, sidechain = opts.duck }
end
