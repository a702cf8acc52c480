local bass = mix.track("bass", { osc = "saw", bars = 1 })
bass.comp { threshold_db = -20 }
