-- the detector is "peak" or "rms"
local drums = mix.bus "drums"
drums:comp { threshold_db = -12, ratio = 3, detection = "average" }
