-- scripts/mastering.lua: mastering a finished stereo mix (no album): a hand-built chain.
--   mixdown render scripts/mastering.lua --set mix=mix.wav --allow-read .
--                                                (writes out/mastering.wav, -14 LUFS / -1 dBTP)
--
-- The source is a stereo file, `mix.wav` beside this script unless --set mix=PATH says
-- otherwise (a file outside the script's folder also needs --allow-read DIR). The chain, in
-- the order a mastering engineer would reach for it:
--   1. corrective EQ: a 25 Hz high-pass, a little 250 Hz mud out, a high shelf of air;
--   2. a de-esser on the 6-9 kHz harshness;
--   3. a gentle 3-band multiband compressor (lows held steady, highs tamed);
--   4. glue: 1.5:1 with a wide soft knee and auto makeup;
--   5. colour: a touch of tape-like saturation (8x oversampled, 30 % wet);
--   6. width: the side widened a little, everything below 120 Hz folded to mono;
--   7. loudness to -14 LUFS integrated (two passes) into the true-peak limiter at -1 dBTP.
-- The render summary reports the input loudness, the gain applied and the output loudness.

mix.session { sample_rate = 48000 }

local song = mix.track("mix", mix.args.mix or "mix.wav")
local m = mix.master

m:highpass { hz = 25, slope_db = 24 }
m:eq { mix.bell { hz = 250, q = 1.0, gain_db = -1.5 }, mix.high_shelf { hz = 11000, gain_db = 1.5 } }
m:deess { hz = 6500, threshold_db = -28, ratio = 3 }
m:multiband { crossovers_hz = { 150, 4000 },
              b1_threshold_db = -18, b1_ratio = 2, b3_threshold_db = -24, b3_ratio = 2.5,
              attack_ms = 20, release_ms = 200 }
m:comp { threshold_db = -20, ratio = 1.5, knee_db = 12, attack_ms = 30, release_ms = 300,
         auto_makeup = true }
m:saturate { drive_db = 4, mix = 0.3, curve = "tanh" }
m:width { width = 1.15, mono_below_hz = 120 }
m:loudness { target_lufs = -14, ceiling_db = -1 }

mix.render { path = "out/mastering.wav", format = "wav24" }
