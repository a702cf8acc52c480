local v = mix.track("v", { osc = "saw", bars = 1 })
v:eq { mix.bell { freq = 1000, gain_db = 3 } }
