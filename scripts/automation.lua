-- scripts/automation.lua: every kind of automation, on faders, pans, sends and inserts.
--   mixdown render scripts/automation.lua        (writes out/automation.wav, 12 bars at 90 BPM)
--
-- Any parameter of a strip (gain_db, pan) or of an insert handle can be automated; the calls
-- chain, are sample-accurate, and ramps start at the previous event:
--   p:set(t, v)           jump to v at t
--   p:linear_to(t, v)     straight line to v at t
--   p:exp_to(t, v)        exponential ramp (natural for Hz and for gains in linear terms)
--   p:target(t, v, tau)   from t, approach v with time constant tau seconds (like an RC)
--   p:curve { {t, v}, ... } a breakpoint envelope (set at the first point, lines between)
-- Times are seconds or musical: mix.bar(n) (start of bar n), mix.beat(n) (start of beat n,
-- counted from the song start), mix.note("1/8") (a duration) at the session tempo.

mix.session { sample_rate = 48000, tempo_bpm = 90 }
mix.session { length_s = mix.bar(13) }  -- a second call: mix.bar() now counts 90 BPM bars

local drums = mix.track("drums", { drum = "kick", pattern = "X.....x...X....." })
local hats  = mix.track("hats",  { drum = "hat",  pattern = "x.x.x.x.x.x.x.x.", level_db = -10 })
local synth = mix.track("synth", { osc = "saw", hz = 110, level_db = -14 })
local pad   = mix.track("pad",   { synth = "pad", steps_per_beat = 1, level_db = -12,
  pattern = "a2:m _ _ _ f2 _ _ _ c3 _ _ _ g2 _ _ _" })

-- A filter sweep on the saw: eq band 1 is a resonant low-pass; its corner sweeps
-- exponentially up over four bars, jumps back at bar 9 and glides down with target().
local f = synth:eq { mix.lowpass { hz = 200, q = 4 } }
f.b1_hz:set(mix.bar(1), 200):exp_to(mix.bar(5), 6000)
f.b1_hz:set(mix.bar(9), 4000):target(mix.bar(9), 300, 0.8)
f.b1_q:curve { { mix.bar(1), 4 }, { mix.bar(5), 8 }, { mix.bar(9), 1 } }

-- Fader moves: hats fade in over the first two bars, the saw dips on the last beat of bar 4.
hats.gain_db:set(0, -40):linear_to(mix.bar(3), 0)
synth.gain_db:set(mix.beat(16), 0):linear_to(mix.beat(16) + mix.note("1/8"), -12)
             :linear_to(mix.beat(17), 0)

-- Pan: the hats sway left and right every bar (a curve), the pad drifts to the right.
local sway = {}
for bar = 1, 12 do
  sway[#sway + 1] = { mix.bar(bar), -0.5 }
  sway[#sway + 1] = { mix.bar(bar) + mix.note("1/2"), 0.5 }
end
hats.pan:curve(sway)
pad.pan:set(0, -0.4):linear_to(mix.bar(13), 0.4)

-- A send level and an effect parameter: the pad's reverb send swells in bar 11,
-- the echo's feedback builds, and the compressor threshold follows the arrangement.
local verb = mix.bus "verb"
verb:reverb { decay_s = 3, wet = 1, dry = 0 }
local send = pad:send(verb, { gain_db = -20 })
send.gain_db:set(mix.bar(11), -20):linear_to(mix.bar(12), -6)

local echo = mix.bus "echo"
local e = echo:delay { note = "1/4", feedback = 0.2 }
drums:send(echo, { gain_db = -12 })
e.feedback:set(mix.bar(9), 0.2):linear_to(mix.bar(12), 0.6):set(mix.bar(12) + mix.note("1/4"), 0)

local c = drums:comp { threshold_db = -12, ratio = 4, attack_ms = 5, release_ms = 100 }
c.threshold_db:set(mix.bar(5), -12):linear_to(mix.bar(9), -24)

-- And the master fades out over the last bar.
mix.master.gain_db:set(mix.bar(12), 0):linear_to(mix.bar(13), -60)
mix.master:limit { ceiling_db = -1 }
mix.render { path = "out/automation.wav", format = "wav24" }
