mix.session { tempo_bpm = 1000 }
local a = mix.bus "a"
a:gain { gain_db = 100 }
