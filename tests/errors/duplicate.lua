local a = mix.bus "keys"
local b = mix.bus "keys"
