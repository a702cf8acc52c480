-- scripts/buses_and_sends.lua: buses, pre- and post-fader sends, a reverb send and a delay send.
--   mixdown render scripts/buses_and_sends.lua   (writes out/buses_and_sends.wav)
--
-- Routing: drums go to a "drums" bus (glued by a compressor); keys and bass to a "music" bus.
-- Two effect returns: "verb" (a reverb, fully wet, high-passed) and "echo" (a dotted-eighth
-- echo with filtered feedback, ping-pong). Sends are post-fader unless pre = true: the lead's
-- echo send is pre-fader, so the echo keeps playing when the lead's fader is pulled down at
-- the end (a classic "throw"). Every send returns its gain node, which can be automated.

mix.session { sample_rate = 48000, tempo_bpm = 96 }
mix.session { length_s = mix.bar(9) }  -- a second call: mix.bar() now counts 96 BPM bars

local kick  = mix.track("kick",  { drum = "kick",  pattern = "X...x...X...x..." })
local snare = mix.track("snare", { drum = "snare", pattern = "....X.......X...", level_db = -4 })
local hat   = mix.track("hat",   { drum = "hat",   pattern = "x.x.x.x.x.x.x.xo", level_db = -12, pan = 0.25 })
local bass  = mix.track("bass",  { synth = "bass", steps_per_beat = 2, level_db = -5,
  pattern = "d2 . d2 f2 . d2 a1 c2" })
local keys  = mix.track("keys",  { synth = "pad", steps_per_beat = 1, level_db = -13, pan = -0.2,
  pattern = "d3:m _ bb2 _ f2 _ c3 _" })
local lead  = mix.track("lead",  { synth = "lead", steps_per_beat = 2, level_db = -11, pan = 0.15, start_bar = 3,
  pattern = "a4 _ f4 _ d4 e4 f4 _  g4 _ e4 _ c4 d4 e4 _" })

-- Groups.
local drums = mix.bus "drums"
kick:to(drums); snare:to(drums); hat:to(drums)
drums:comp { threshold_db = -14, ratio = 2.5, attack_ms = 15, release_ms = 120, knee_db = 6 }
drums.gain_db = -1

local music = mix.bus "music"
bass:to(music); keys:to(music)
music:eq { mix.highpass { hz = 30 }, mix.bell { hz = 400, q = 1, gain_db = -2 } }

-- Effect returns.
local verb = mix.bus "verb"
verb:reverb { decay_s = 2.2, predelay_ms = 20, damping = 0.4, wet = 1, dry = 0 }
verb:highpass { hz = 200 }

local echo = mix.bus "echo"
echo:delay { note = "1/8.", feedback = 0.35, lowpass_hz = 5000, highpass_hz = 150, ping_pong = true }
echo:send(verb, { gain_db = -10 })          -- the echoes get some room too

-- Sends: post-fader by default, pre-fader on request.
snare:send(verb, { gain_db = -12 })
keys:send(verb, { gain_db = -9 })
lead:send(verb, { gain_db = -14 })
local throw = lead:send(echo, { gain_db = -10, pre = true })

-- The throw: at bar 7 the lead fader drops, the pre-fader echo send opens up.
lead.gain_db:set(mix.bar(7), 0):linear_to(mix.bar(7) + mix.note("1/4"), -40)
throw.gain_db:set(mix.bar(7), -10):linear_to(mix.bar(7) + mix.note("1/4"), -2)

mix.master:limit { ceiling_db = -1 }
mix.render { path = "out/buses_and_sends.wav", format = "wav24" }
