-- times are durations: never negative
local vox = mix.bus "vox"
vox:comp { threshold_db = -18, ratio = 4, attack_ms = -5 }
