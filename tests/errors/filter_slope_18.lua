-- Butterworth slopes come in steps of 12 dB/octave
local bass = mix.bus "bass"
bass:highpass { hz = 40, slope_db = 18 }
