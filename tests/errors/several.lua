-- three mistakes, all reported in one run
local a = mix.bus "a"
a:gain { gain_db = 99 }
a:delay { time_ms = 10, feedbak = 0.5 }
mix.render { path = "out/x.wav", format = "mp3" }
