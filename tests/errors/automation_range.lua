local a = mix.bus "a"
a.pan:set(0, 0):linear_to(2, 3)
