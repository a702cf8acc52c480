mix.track("t", "not_audio.wav")
