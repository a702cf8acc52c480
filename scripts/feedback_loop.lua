-- scripts/feedback_loop.lua: a feedback loop between two buses, closed through a delay_line.
--   mixdown render scripts/feedback_loop.lua     (writes out/feedback_loop.wav)
--
-- Routing may form a cycle only through a delay node: here bus "a" feeds bus "b", and "b"
-- sends back into "a" through a `delay_line` (a plain whole-frame delay, the node allowed to
-- close a loop). Each trip round the loop takes 3/16 of a bar and loses 4 dB, and a low-pass
-- (with a high-pass against mud) in the loop darkens every repeat, so a few plucks turn into
-- a decaying, dubby echo. Take the delay_line out and `mixdown check` reports the cycle,
-- naming every node on it with its script line.

mix.session { sample_rate = 48000, tempo_bpm = 110 }
mix.session { length_s = mix.bar(5) }  -- a second call: mix.bar() now counts 110 BPM bars

local pluck = mix.track("pluck", { synth = "pluck", steps_per_beat = 4, bars = 2, level_db = -6,
  pattern = "c4 . . eb4 . . g4 . bb4 . . . . . . ." })
local kick = mix.track("kick", { drum = "kick", pattern = "X.......X.......", bars = 2 })

local a = mix.bus "a"
local b = mix.bus "b"
pluck:to(a)
a:to(b)                                   -- a → b (and b → master)
b:eq { mix.highpass { hz = 120 }, mix.lowpass { hz = 2500 } }
b:delay_line { note = "3/16" }            -- the loop's delay: 3/16 of a bar
b:send(a, { gain_db = -4 })               -- b → a closes the loop, 4 dB down per trip
a:send(mix.master, { gain_db = -3 })      -- the dry plucks, straight to the master

mix.master:limit { ceiling_db = -1 }
mix.render { path = "out/feedback_loop.wav", format = "wav24" }
