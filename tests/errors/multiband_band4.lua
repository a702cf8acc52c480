local t = mix.track("t", { osc = "saw", bars = 1 })
t:multiband { crossovers_hz = {200, 2000}, b4_ratio = 2 }
