-- graphs/mastering/loud.lua — a loud master for clubs and playlists that do not normalise.
--
--   local master = require "mastering.loud"
--   master(mix.master, { target_lufs = -9 })
--
-- Tighter glue compression (3:1 above -18 dBFS, 10/150 ms, auto makeup off), a little
-- low and high shelf lift, then loudness to `target_lufs` (default -9 LUFS) into the
-- true-peak limiter at `ceiling_db` (default -0.8 dBTP). Loud masters trade dynamics for level:
-- check the render summary for how hard the limiter worked.
return function(strip, opts)
  opts = opts or {}
  strip:eq {
    mix.low_shelf { hz = 70, gain_db = 1.5 },
    mix.high_shelf { hz = 12000, gain_db = 2 },
  }
  strip:comp { threshold_db = -18, ratio = 3, knee_db = 4, attack_ms = 10, release_ms = 150 }
  return strip:loudness { target_lufs = opts.target_lufs or -9, ceiling_db = opts.ceiling_db or -0.8,
                          gain_db = opts.gain_db }
end
