-- graphs/mastering/streaming.lua — mastering chain for streaming services.
--
--   local master = require "mastering.streaming"
--   master(mix.master, { target_lufs = -14, ceiling_db = -1 })
--
-- Gentle tonal EQ (low shelf +1 dB at 90 Hz, high shelf +1.5 dB at 10 kHz), glue compression
-- (2:1 above -16 dBFS, soft knee, 30/250 ms), then loudness normalisation to `target_lufs`
-- (default -14 LUFS, two-pass offline) with the true-peak limiter at `ceiling_db` (default -1 dBTP).
-- Options: target_lufs, ceiling_db, low_shelf_db, high_shelf_db, glue_threshold_db.
return function(strip, opts)
  opts = opts or {}
  strip:eq {
    mix.low_shelf { hz = 90, gain_db = opts.low_shelf_db or 1.0 },
    mix.high_shelf { hz = 10000, gain_db = opts.high_shelf_db or 1.5 },
  }
  strip:comp { threshold_db = opts.glue_threshold_db or -16, ratio = 2, knee_db = 6,
               attack_ms = 30, release_ms = 250, link = "max" }
  return strip:loudness { target_lufs = opts.target_lufs or -14, ceiling_db = opts.ceiling_db or -1,
                          gain_db = opts.gain_db }
end
