-- scripts/modules.lua: the graph modules shipped with mixdown, used together.
--   mixdown render scripts/modules.lua           (writes out/modules.wav, EBU R128: -23 LUFS)
--
-- `require "name"` loads a module beside the script, then from --graphs folders, then the
-- built-in ones (graphs/ in the source): each is a function that adds inserts to a strip.
--   strips.vocal   high-pass, mud cut, presence, air, 3:1 soft-knee compressor
--   strips.drums   weight, boxiness cut, snap, slow-attack glue compressor
--   strips.bass    high-pass, mud cut, compressor ducking under a key (here the kick)
--   buses.parallel a bus that squashes what is sent to it ("New York" compression)
--   mastering.broadcast  20 Hz high-pass, loudness to -23 LUFS at -1 dBTP (EBU R128)
-- The "vocal" here is a lead synth standing in for a singer; the modules return their
-- compressor handles, so their settings can still be automated.

mix.session { sample_rate = 48000, tempo_bpm = 100 }
mix.session { length_s = mix.bar(9) }  -- a second call: mix.bar() now counts 100 BPM bars

local vocal    = require "strips.vocal"
local drumbus  = require "strips.drums"
local bassline = require "strips.bass"
local parallel = require "buses.parallel"
local master   = require "mastering.broadcast"

local kick  = mix.track("kick",  { drum = "kick",  pattern = "X.....X...X....." })
local snare = mix.track("snare", { drum = "snare", pattern = "....X.......X..x", level_db = -3 })
local hat   = mix.track("hat",   { drum = "hat",   pattern = "x.xxx.xxx.xxx.xo", level_db = -12 })
local bass  = mix.track("bass",  { synth = "bass", steps_per_beat = 2, level_db = -4,
  pattern = "g1 . g1 bb1 . g1 f1 d2" })
local vox   = mix.track("vox",   { synth = "lead", steps_per_beat = 2, level_db = -8, start_bar = 3,
  pattern = "d4 _ bb3 c4 d4 _ f4 _ eb4 _ d4 c4 bb3 _ . ." })

local drums = mix.bus "drums"
kick:to(drums); snare:to(drums); hat:to(drums)
drumbus(drums, { threshold_db = -18 })

local crush = parallel("crush", { gain_db = -12 })
kick:send(crush, { gain_db = -3 }); snare:send(crush, { gain_db = -3 })

bassline(bass, { duck = kick })
local vcomp = vocal(vox, { air_db = 3 })
vcomp.threshold_db:set(mix.bar(7), -20):linear_to(mix.bar(9), -26)   -- more control at the end

master(mix.master)                                -- -23 LUFS, -1 dBTP
mix.render { path = "out/modules.wav", format = "wav24" }
