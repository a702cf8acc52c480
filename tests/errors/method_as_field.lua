mix.master.gain:set(1, -6)
