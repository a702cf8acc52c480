-- benches/master1.lua: the master1 workload of ../shared/bench: premix.wav through the mix16
-- master chain alone (shelves, compressor with +4 dB makeup, -1 dBFS limiter).
local data = mix.args.data or "/tmp/peers-data"
mix.session { sample_rate = 48000 }
local t = mix.track("premix", data .. "/premix.wav")
local m = mix.master
m:eq { mix.low_shelf { hz = 100, gain_db = 1.5, q = 0.7071 }, mix.high_shelf { hz = 10000, gain_db = 2, q = 0.7071 } }
m:comp { threshold_db = -14, ratio = 2, attack_ms = 20, release_ms = 200, makeup_db = 4 }
m:limit { ceiling_db = -1, lookahead_ms = 5, release_ms = 100, true_peak = false }
mix.render { path = "out/master1.wav", format = "wav32f" }
