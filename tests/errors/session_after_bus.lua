local a = mix.bus "a"
mix.session { sample_rate = 44100.5 }
