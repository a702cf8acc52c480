mix.session { sample_rate = 48000 }
mix.track("t", "corrupt.flac")
