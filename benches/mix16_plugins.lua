-- benches/mix16_plugins.lua: the mix16 workload (../shared/bench/README.md) with third-party
-- plugins in place of the built-in EQ and compressor: per track gain and balance pan, then
-- zam-plugins' ZamEQ2 (low shelf, two bells, high shelf; mono, so one copy per channel of the
-- stereo stem) and ZamCompX2 (the stereo ZamComp: -18 dB, 4:1, 10/100 ms, hard knee, max
-- detection); summed; the master chain is the built-in one of mix16.lua.
--   mixdown render benches/mix16_plugins.lua --allow-read /tmp/peers-data \
--     --set data=/tmp/peers-data --set format=clap -o out.wav        (format: clap, lv2, vst3)
-- benches/plugins.sh runs it beside Pedalboard hosting the same processors as VST3.
local data = mix.args.data or "/tmp/peers-data"
local format = mix.args.format or "clap"
local ids = {
  clap = { eq = "clap:com.zamaudio.ZamEQ2", comp = "clap:com.zamaudio.ZamCompX2" },
  lv2 = { eq = "lv2:urn:zamaudio:ZamEQ2", comp = "lv2:urn:zamaudio:ZamCompX2" },
  vst3 = { eq = "vst3:ZamEQ2", comp = "vst3:ZamCompX2" },
}
local id = assert(ids[format], "format must be clap, lv2 or vst3")
mix.session { sample_rate = 48000 }

-- A bell's Q as ZamEQ2's bandwidth in octaves.
local function octaves(q)
  local x = 1 / (2 * q)
  return 2 / math.log(2) * math.log(x + math.sqrt(x * x + 1))
end

local T = require "mix16_tracks"
for _, r in ipairs(T) do
  local t = mix.track(r[2], { file = data .. "/stem" .. r[1] .. ".wav", gain_db = r[3], pan = r[4] })
  t:plugin(id.eq, {
    frequency_l = r[5], boost_cut_l = r[6],
    frequency_1 = r[7], boost_cut_1 = r[8], bandwidth_1 = octaves(r[9]),
    frequency_2 = r[10], boost_cut_2 = r[11], bandwidth_2 = octaves(r[12]),
    frequency_h = math.min(r[13], 14000), boost_cut_h = r[14],   -- ZamEQ2 stops at 14 kHz
  })
  t:plugin(id.comp, { threshold = -18, ratio = 4, attack = 10, release = 100, knee = 0,
                      stereo_detection = 1 })
end
local m = mix.master
m:eq { mix.low_shelf { hz = 100, gain_db = 1.5, q = 0.7071 }, mix.high_shelf { hz = 10000, gain_db = 2, q = 0.7071 } }
m:comp { threshold_db = -14, ratio = 2, attack_ms = 20, release_ms = 200, makeup_db = 4 }
m:limit { ceiling_db = -1, lookahead_ms = 5, release_ms = 100, true_peak = false }
mix.render { path = "out/mix16_plugins.wav", format = "wav32f" }
