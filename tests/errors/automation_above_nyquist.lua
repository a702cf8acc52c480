-- a sweep may not run past Nyquist (22050 Hz at 44.1 kHz), even though 23 kHz exists at 48 kHz
mix.session { sample_rate = 44100 }
local synth = mix.bus "synth"
local eq = synth:eq { mix.lowpass { hz = 2000 } }
eq.b1_hz:set(0, 2000):exp_to(8, 23000)
