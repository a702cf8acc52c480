local a = mix.bus "a"
a.gian_db:set(0, -6)
