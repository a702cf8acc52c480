-- benches/mix16.lua: the mix16 workload of ../shared/bench (README there is normative):
-- 16 stereo stems x 180 s; per track gain, balance pan, 4-band EQ (low shelf, two bells, high
-- shelf), compressor (-18 dBFS, 4:1, 10/100 ms, hard knee, peak, linked); summed to a stereo
-- bus; master: shelves +1.5 dB @100 Hz and +2 dB @10 kHz, compressor (-14 dBFS, 2:1, 20/200 ms,
-- +4 dB makeup), limiter (-1 dBFS sample peak, 5 ms lookahead, 100 ms release).
--   mixdown render benches/mix16.lua --allow-read /tmp/peers-data --set data=/tmp/peers-data -o out.wav
local data = mix.args.data or "/tmp/peers-data"
mix.session { sample_rate = 48000 }

local T = require "mix16_tracks"
for _, r in ipairs(T) do
  local t = mix.track(r[2], { file = data .. "/stem" .. r[1] .. ".wav", gain_db = r[3], pan = r[4] })
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
m:eq { mix.low_shelf { hz = 100, gain_db = 1.5, q = 0.7071 }, mix.high_shelf { hz = 10000, gain_db = 2, q = 0.7071 } }
m:comp { threshold_db = -14, ratio = 2, attack_ms = 20, release_ms = 200, makeup_db = 4 }
m:limit { ceiling_db = -1, lookahead_ms = 5, release_ms = 100, true_peak = false }
mix.render { path = "out/mix16.wav", format = "wav32f" }
