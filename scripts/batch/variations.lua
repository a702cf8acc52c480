-- scripts/batch/variations.lua: one short four-track mix whose balance and colour come from
-- --set values, for `mixdown batch` (see variations.jsonl next to it). No audio files needed.
--   mixdown render scripts/batch/variations.lua --set drums_db=-2 --set seed=4
--   mixdown batch scripts/batch/variations.jsonl --out-dir /tmp/variations
--
-- Values (mix.args), with their defaults:
--   length_s 30   tempo 112   drums_db 0   bass_db -3   keys_db -12   lead_db -10
--   reverb_db -10 (keys' reverb send; the lead's is 4 dB lower)   bright_db 0 (master high shelf)
--   seed 1 (hat pattern)
local a = mix.args
local function num(key, default)
  local v = a[key]
  if v == nil then return default end
  local n = tonumber(v)
  if n == nil then error("--set " .. key .. "=" .. tostring(v) .. ": a number is needed", 2) end
  return n
end

mix.session { sample_rate = 48000, tempo_bpm = num("tempo", 112), length_s = num("length_s", 30) }

local seed = math.floor(num("seed", 1))
-- A hat pattern drawn from the seed value: the same values always give the same pattern (the
-- random numbers come from the job's values, never from the clock).
math.randomseed(seed)
local steps = {}
for i = 1, 16 do steps[i] = (math.random() < 0.6) and "x" or "." end

local drums = mix.bus "drums"
mix.track("kick", { drum = "kick", pattern = "X...|..x.|X...|...." }):to(drums)
mix.track("hat", { drum = "hat", pattern = table.concat(steps), level_db = -9, seed = seed }):to(drums)
drums.gain_db = num("drums_db", 0)
drums:comp { threshold_db = -18, ratio = 3, attack_ms = 10, release_ms = 120 }

local bass = mix.track("bass", { synth = "bass", steps_per_beat = 2, level_db = num("bass_db", -3),
  pattern = "a1 . a1 a2 _ . e2 g2  f1 . f1 f2 _ . c2 e2" })
bass:eq { mix.low_shelf { hz = 90, gain_db = 2 } }

local keys = mix.track("keys", { synth = "pad", steps_per_beat = 1, level_db = num("keys_db", -12),
  pattern = "a2:m _ f2:maj _ c3:maj _ g2:maj _", pan = -0.3 })
local lead = mix.track("lead", { synth = "lead", steps_per_beat = 2, level_db = num("lead_db", -10),
  pattern = "e4 _ c4 d4 e4 _ g4 _  f4 _ e4 d4 c4 _ . .", pan = 0.25 })

local verb = mix.bus "verb"
verb:reverb { decay_s = 1.8, predelay_ms = 20, wet = 1, dry = 0 }
keys:send(verb, { gain_db = num("reverb_db", -10) })
lead:send(verb, { gain_db = num("reverb_db", -10) - 4 })

mix.master:eq { mix.high_shelf { hz = 9000, gain_db = num("bright_db", 0) } }
mix.master:limit { ceiling_db = -1 }
