-- a missing comma between arguments
local a = mix.track("a" { osc = "sine" })
