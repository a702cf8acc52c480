mix.session { sample_rate = 48000 }
local a = mix.bus "a"
a:gain { gain_bd = -3 }
