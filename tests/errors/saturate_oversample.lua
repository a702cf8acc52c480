-- oversampling factors are powers of two; 3 is not rounded to 2 or 4
local gtr = mix.bus "gtr"
gtr:saturate { drive_db = 12, oversample = 3 }
