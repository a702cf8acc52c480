-- scripts/sidechain.lua: sidechain ducking ("pumping"), a keyed gate, and a loud club master.
--   mixdown render scripts/sidechain.lua         (writes out/sidechain.wav, -9 LUFS)
--
-- A compressor or gate with `sidechain = strip` listens to that strip's output instead of its
-- own input. Here a four-on-the-floor kick ducks the pad and the bass (the pad hard and slow
-- for an audible pump, the bass briefly, with a 60 Hz high-pass on the detector so only the
-- kick's thump triggers it); a gate keyed by the hi-hats chops a noise bed into a rhythm. The
-- hats drive the gate from a muted bus, so the key is heard only through what it opens.
-- Mastered with the shipped module mastering.loud (glue, shelves, -9 LUFS at -0.8 dBTP).

mix.session { sample_rate = 48000, tempo_bpm = 124 }
mix.session { length_s = mix.bar(9) }  -- a second call: mix.bar() now counts 124 BPM bars

local kick = mix.track("kick", { drum = "kick", pattern = "X...X...X...X..." })
local pad  = mix.track("pad",  { synth = "pad", steps_per_beat = 1, level_db = -8,
  pattern = "f2:m7 _ _ _ db3 _ _ _ ab2 _ _ _ eb3 _ _ _" })
local bass = mix.track("bass", { synth = "bass", steps_per_beat = 4, level_db = -6,
  pattern = ". . f1 . . . f1 f2 . . f1 . . . ab1 c2" })
local bed  = mix.track("bed",  { noise = "pink", level_db = -20 })
local key  = mix.track("hatkey", { drum = "hat", pattern = "..x...x...x...xx", level_db = -6 })

-- The pump: deep, slow release, so the pad swells back between kicks.
pad:comp { threshold_db = -40, ratio = 8, attack_ms = 2, release_ms = 180, sidechain = kick }
-- The bass gets out of the kick's way, keyed on the kick's low end only.
bass:comp { threshold_db = -30, ratio = 6, attack_ms = 1, release_ms = 70,
            sidechain = kick, sidechain_hpf_hz = 60 }

-- A gate keyed by the hats: the noise bed opens on each hat.
bed:highpass { hz = 2000 }
bed:gate { threshold_db = -30, range_db = -40, attack_ms = 0.5, hold_ms = 30, release_ms = 60,
           sidechain = key }
local keys_off = mix.bus "keys_off"
keys_off:mute {}
key:to(keys_off)

local master = require "mastering.loud"          -- graphs/mastering/loud.lua
master(mix.master, { target_lufs = -9, ceiling_db = -0.8 })

mix.render { path = "out/sidechain.wav", format = "wav24" }
