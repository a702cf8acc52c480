local a = mix.bus "a"
a:to(drums)
