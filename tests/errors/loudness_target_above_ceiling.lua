-- -6 LUFS cannot fit under a -9 dBTP ceiling
mix.master:loudness { target_lufs = -6, ceiling_db = -9 }
