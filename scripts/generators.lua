-- scripts/generators.lua: every built-in generator and the step-pattern language, no files.
--   mixdown render scripts/generators.lua        (writes out/generators.wav, 8 bars at 100 BPM)
--
-- Oscillators (band-limited sine/saw/square/triangle), white and pink noise, the drum voices
-- (kick, snare, hat, open_hat, clap) and the synth presets (bass, pad, lead, pluck), placed with
-- start_bar/bars and shaped with steps_per_beat, swing and seed. Pattern reminders:
--   drums:  X accent (1.0), x hit (0.7), o ghost (0.4), . or - rest; spaces and | are ignored
--   melody: notes (c2, f#3, eb4), MIDI numbers (60), chords (c3+eb3+g3, c3:m, g2:7, a2:m7),
--           . rest, _ hold the previous step; patterns loop.

mix.session { sample_rate = 48000, tempo_bpm = 100 }
mix.session { length_s = mix.bar(9) }  -- a second call: mix.bar() now counts 100 BPM bars

-- Drums: sixteenths (the default 4 steps per beat), a little swing on the hats.
local kick  = mix.track("kick",  { drum = "kick",  pattern = "X..x|..X.|X...|.x.." })
local snare = mix.track("snare", { drum = "snare", pattern = "....X.......X..o", level_db = -3, start_bar = 2 })
local clap  = mix.track("clap",  { drum = "clap",  pattern = "............X...", level_db = -8, start_bar = 5 })
local hat   = mix.track("hat",   { drum = "hat",   pattern = "x.o.x.o.x.o.x.oo", level_db = -10, swing = 0.2, seed = 7, pan = -0.3 })
local ohat  = mix.track("ohat",  { drum = "open_hat", pattern = "..x.", steps_per_beat = 2, level_db = -16, pan = 0.3, start_bar = 5 })

-- Melodic presets: eighth-note bass with rests and holds, a chord pad with chord symbols and
-- stacked notes, a lead from bar 5 for 4 bars, a plucked arpeggio with MIDI note numbers.
local bass  = mix.track("bass",  { synth = "bass", steps_per_beat = 2, level_db = -4,
  pattern = "a1 . a1 a2 _ . e2 g2  f1 . f1 f2 _ . c2 e2" })
local pad   = mix.track("pad",   { synth = "pad", steps_per_beat = 1, level_db = -14,
  pattern = "a2:m _ _ _ f2+a2+c3 _ c3 _" })
local lead  = mix.track("lead",  { synth = "lead", steps_per_beat = 2, start_bar = 5, bars = 4, level_db = -12, pan = 0.2,
  pattern = "e4 _ c4 d4 e4 _ g4 _  f4 _ e4 d4 c4 _ . ." })
local pluck = mix.track("pluck", { synth = "pluck", steps_per_beat = 4, level_db = -16, pan = -0.4,
  pattern = "57 60 64 60 57 60 64 67" })

-- Plain oscillators and noise, quietly underneath: a sub sine, a saw drone that enters late,
-- a square and a triangle an octave apart, and pink-noise "air" (white noise is there too).
mix.track("sub",   { osc = "sine",     hz = 55,  level_db = -24 })
mix.track("drone", { osc = "saw",      hz = 110, level_db = -34, start_bar = 3, bars = 6 })
mix.track("sq",    { osc = "square",   hz = 220, level_db = -40, pan = -0.6, bars = 4 })
mix.track("tri",   { osc = "triangle", hz = 440, level_db = -36, pan = 0.6, start_bar = 5 })
mix.track("air",   { noise = "pink",   level_db = -46, seed = 3 })
mix.track("hiss",  { noise = "white",  level_db = -58, start_bar = 7, bars = 2 })

mix.master:limit { ceiling_db = -1 }
mix.render { path = "out/generators.wav", format = "wav24" }
