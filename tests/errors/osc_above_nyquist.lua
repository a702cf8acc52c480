mix.session { sample_rate = 8000 }
mix.track("t", { osc = "sine", hz = 20000, bars = 1 })
