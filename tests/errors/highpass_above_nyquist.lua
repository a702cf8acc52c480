-- at 44.1 kHz the highest frequency is 22050 Hz
mix.session { sample_rate = 44100 }
local vox = mix.bus "vox"
vox:highpass { hz = 23000 }
