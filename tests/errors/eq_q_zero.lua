-- a band needs a positive Q
local vox = mix.bus "vox"
vox:eq { mix.bell { hz = 1000, q = 0, gain_db = 3 } }
