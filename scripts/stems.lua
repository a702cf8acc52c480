-- scripts/stems.lua: rendering stems alongside the mix.
--   mixdown render scripts/stems.lua             (writes out/stems.wav and one file per bus:
--                                                  out/stems.drums.wav, out/stems.music.wav,
--                                                  out/stems.fx.wav)
--
-- With `stems = true`, `mixdown render` also writes every bus on its own (the bus's output
-- after its inserts and fader, the way it reaches the master), same length and format as the
-- mix, so the parts can be taken into another session. Tracks reach a stem through their bus.

mix.session { sample_rate = 48000, tempo_bpm = 120 }
mix.session { length_s = mix.bar(5) }  -- a second call: mix.bar() now counts 120 BPM bars

local drums = mix.bus "drums"
local music = mix.bus "music"
local fx = mix.bus "fx"

mix.track("kick",  { drum = "kick",  pattern = "X...X...X...X..." }):to(drums)
mix.track("snare", { drum = "snare", pattern = "....X.......X...", level_db = -4 }):to(drums)
mix.track("bass",  { synth = "bass", steps_per_beat = 2, level_db = -6,
  pattern = "e2 . e2 g2 . e2 d2 b1" }):to(music)
local chords = mix.track("chords", { synth = "pad", steps_per_beat = 1, level_db = -12,
  pattern = "e3:m _ c3 _ g2 _ d3 _" })
chords:to(music)

fx:reverb { decay_s = 1.8, wet = 1, dry = 0 }
chords:send(fx, { gain_db = -8 })

drums:comp { threshold_db = -12, ratio = 3, attack_ms = 10, release_ms = 100 }
mix.master:limit { ceiling_db = -1 }

mix.render { path = "out/stems.wav", format = "wav24", stems = true }
