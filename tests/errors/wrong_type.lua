local a = mix.bus "a"
a:gain { gain_db = "loud" }
