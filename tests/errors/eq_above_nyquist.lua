-- at 48 kHz nothing exists above 24 kHz
mix.session { sample_rate = 48000 }
local vox = mix.bus "vox"
vox:eq { mix.high_shelf { hz = 30000, gain_db = 3 } }
