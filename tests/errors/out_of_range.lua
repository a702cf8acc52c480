local a = mix.bus "a"
a:gain { gain_db = 100 }
mix.session { tempo_bpm = 1000 }
