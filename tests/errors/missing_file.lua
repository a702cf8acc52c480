local v = mix.track("vox", "stems/missing.wav")
