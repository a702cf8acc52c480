-- a ratio below 1:1 would expand, not compress
local vox = mix.bus "vox"
vox:comp { threshold_db = -18, ratio = 0.5 }
