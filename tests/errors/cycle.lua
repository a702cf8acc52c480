local x = mix.bus "x"
local y = mix.bus "y"
x:to(y)
y:to(x)
