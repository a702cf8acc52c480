-- benches/batch/four.lua: the batch benchmark's job (benches/batch.sh): a 30 s mix of four
-- stereo stems (the first four mix16 stems, cut to 30 s), each with gain, balance pan, a 4-band
-- EQ and a compressor as in mix16, into mix16's master chain. The job's --set values vary the
-- balance: kick_db, snare_db, hats_db, toms_db (track gains) and bright_db (master high shelf).
--   mixdown render benches/batch/four.lua --allow-read /tmp/batch-bench --set data=/tmp/batch-bench
local a = mix.args
local data = a.data or "/tmp/batch-bench"
mix.session { sample_rate = 48000 }

-- name, stem, gain (default), pan, low shelf hz/dB, bell hz/dB/q, bell hz/dB/q, high shelf hz/dB
local T = {
  {"kick", "01", -3.0, 0.00, 80, 3.0, 400, -3.0, 1.5, 3000, 2.0, 1.0, 10000, -2.0},
  {"snare", "02", -4.0, 0.05, 150, -2.0, 250, 2.0, 1.2, 5000, 3.0, 0.8, 12000, 1.5},
  {"hats", "03", -9.0, 0.30, 200, -6.0, 800, -2.0, 1.0, 8000, 2.0, 1.5, 14000, 2.0},
  {"toms", "04", -6.0, -0.25, 100, 2.0, 300, -3.0, 2.0, 4000, 2.5, 1.0, 10000, -1.0},
}
for _, r in ipairs(T) do
  local t = mix.track(r[1], { file = data .. "/stem" .. r[2] .. ".wav",
                              gain_db = tonumber(a[r[1] .. "_db"]) or r[3], pan = r[4] })
  t:eq {
    mix.low_shelf  { hz = r[5],  gain_db = r[6],  q = 0.7071 },
    mix.bell       { hz = r[7],  gain_db = r[8],  q = r[9] },
    mix.bell       { hz = r[10], gain_db = r[11], q = r[12] },
    mix.high_shelf { hz = r[13], gain_db = r[14], q = 0.7071 },
  }
  t:comp { threshold_db = -18, ratio = 4, attack_ms = 10, release_ms = 100, knee_db = 0,
           detection = "peak", link = "max" }
end
local m = mix.master
m:eq { mix.low_shelf { hz = 100, gain_db = 1.5, q = 0.7071 },
       mix.high_shelf { hz = 10000, gain_db = tonumber(a.bright_db) or 2, q = 0.7071 } }
m:comp { threshold_db = -14, ratio = 2, attack_ms = 20, release_ms = 200, makeup_db = 4 }
m:limit { ceiling_db = -1, lookahead_ms = 5, release_ms = 100, true_peak = false }
