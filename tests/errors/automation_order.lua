local t = mix.track("t", { osc = "saw", bars = 4 })
t.gain_db:set(5, -60):linear_to(3, 0)
