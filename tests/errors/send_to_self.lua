local b = mix.bus("b")
b:send(b)
