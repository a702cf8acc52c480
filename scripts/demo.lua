-- scripts/demo.lua: the built-in demo song. Everything is made from mixdown's generators,
-- so it renders on any machine with no audio files:
--   mixdown render scripts/demo.lua -o out/demo.wav
-- 16 bars at 110 BPM (about 35 s): drums and bass, then chords and a lead; mixed with EQ,
-- compression, a sidechain duck, a reverb send and automation; mastered to -14 LUFS / -1 dBTP.

mix.session { sample_rate = 48000, tempo_bpm = 110, time_signature = "4/4", length_bars = 16 }

-- Sources ---------------------------------------------------------------------------------
local kick  = mix.track("kick",  { drum = "kick",  pattern = "X...X...X...X..." })
local snare = mix.track("snare", { drum = "snare", pattern = "....X.......X..X", level_db = -2, start_bar = 3 })
local hat   = mix.track("hat",   { drum = "hat",   pattern = "x.x.x.xox.x.x.xo", level_db = -9, pan = 0.35 })
local bass  = mix.track("bass",  { synth = "bass", steps_per_beat = 2, level_db = -2,
  pattern = "c2 . c2 c3 . c2 . bb1  ab1 . ab1 ab2 . ab1 . g1  eb2 . eb2 eb3 . eb2 . f2  bb1 . bb1 bb2 . bb1 . d2" })
local chords = mix.track("chords", { synth = "pad", steps_per_beat = 1, start_bar = 5, bars = 12, level_db = -9,
  pattern = "c3:m _ _ _ ab2 _ _ _ eb3 _ _ _ bb2 _ _ _" })
local lead  = mix.track("lead",  { synth = "lead", steps_per_beat = 2, start_bar = 9, bars = 8, level_db = -8, pan = -0.15,
  pattern = "g4 _ eb4 _ c4 _ d4 eb4  f4 _ eb4 _ d4 _ bb3 _  g4 _ bb4 _ g4 _ f4 eb4  d4 _ _ _ . . . ." })

-- Channel strips --------------------------------------------------------------------------
kick:eq { mix.bell { hz = 60, q = 1.0, gain_db = 3 }, mix.bell { hz = 350, q = 1.5, gain_db = -4 } }
snare:highpass { hz = 120 }
hat:highpass { hz = 5000, slope_db = 24 }
bass:eq { mix.highpass { hz = 35 }, mix.bell { hz = 250, q = 1.2, gain_db = -3 } }
bass:comp { threshold_db = -26, ratio = 6, attack_ms = 2, release_ms = 120, sidechain = kick }  -- ducks under the kick
chords:highpass { hz = 180, slope_db = 24 }
chords:eq { mix.high_shelf { hz = 8000, gain_db = -3 } }
lead:comp { threshold_db = -20, ratio = 3, knee_db = 6, attack_ms = 5, release_ms = 80 }

-- Buses and sends -------------------------------------------------------------------------
local drums = mix.bus "drums"
kick:to(drums); snare:to(drums); hat:to(drums)
drums:comp { threshold_db = -14, ratio = 2, attack_ms = 10, release_ms = 150, knee_db = 6 }

local verb = mix.bus "verb"
verb:reverb { decay_s = 2.4, predelay_ms = 25, damping = 0.5, wet = 1.0, dry = 0.0 }
verb:highpass { hz = 250 }
snare:send(verb, { gain_db = -14 })
chords:send(verb, { gain_db = -10 })
lead:send(verb, { gain_db = -12 })

-- Automation --------------------------------------------------------------------------------
chords.gain_db:set(mix.bar(5), -24):linear_to(mix.bar(7), 0)       -- chords fade in
lead.pan:set(mix.bar(13), -0.15):linear_to(mix.bar(17), 0.3)        -- the lead drifts right
hat.gain_db:set(mix.bar(15), 0):exp_to(mix.bar(17), -20)           -- hats thin out at the end

-- Mastering ---------------------------------------------------------------------------------
local master = require "mastering.streaming"                      -- graphs/mastering/streaming.lua
master(mix.master, { target_lufs = -14, ceiling_db = -1 })

mix.render { path = "out/demo.wav", format = "wav24" }
