-- benches/mix16.lua: the mix16 workload of ../shared/bench (README there is normative):
-- 16 stereo stems x 180 s; per track gain, balance pan, 4-band EQ (low shelf, two bells, high
-- shelf), compressor (-18 dBFS, 4:1, 10/100 ms, hard knee, peak, linked); summed to a stereo
-- bus; master: shelves +1.5 dB @100 Hz and +2 dB @10 kHz, compressor (-14 dBFS, 2:1, 20/200 ms,
-- +4 dB makeup), limiter (-1 dBFS sample peak, 5 ms lookahead, 100 ms release).
--   mixdown render benches/mix16.lua --allow-read /tmp/peers-data --set data=/tmp/peers-data -o out.wav
local data = mix.args.data or "/tmp/peers-data"
mix.session { sample_rate = 48000 }

-- mix16_tracks.tsv
local T = {
  {"01","kick",-3.0,0.00,80,3.0,400,-3.0,1.5,3000,2.0,1.0,10000,-2.0},
  {"02","snare",-4.0,0.05,150,-2.0,250,2.0,1.2,5000,3.0,0.8,12000,1.5},
  {"03","hats",-9.0,0.30,200,-6.0,800,-2.0,1.0,8000,2.0,1.5,14000,2.0},
  {"04","toms",-6.0,-0.25,100,2.0,300,-3.0,2.0,4000,2.5,1.0,10000,-1.0},
  {"05","bass",-4.5,0.00,60,2.0,200,-2.0,1.0,1500,1.5,2.0,8000,-4.0},
  {"06","gtrL",-7.0,-0.70,120,-4.0,500,-1.5,1.4,2500,2.0,1.2,11000,1.0},
  {"07","gtrR",-7.0,0.70,120,-4.0,600,-1.5,1.4,2800,2.0,1.2,11000,1.0},
  {"08","keys",-8.0,-0.40,150,-3.0,700,1.0,0.9,3500,-2.0,2.5,12000,2.0},
  {"09","pad",-10.0,0.40,100,-2.0,900,-2.5,0.7,4500,1.0,1.0,13000,3.0},
  {"10","lead",-6.5,0.15,200,-5.0,1200,2.0,1.8,5500,-1.5,3.0,12000,1.0},
  {"11","vox",-5.0,0.00,120,-6.0,350,-2.0,2.0,3000,3.0,1.0,12000,2.5},
  {"12","bvoxL",-9.0,-0.50,150,-6.0,450,-2.0,2.0,3200,2.0,1.2,12000,2.0},
  {"13","bvoxR",-9.0,0.50,150,-6.0,450,-2.0,2.0,3400,2.0,1.2,12000,2.0},
  {"14","perc",-8.5,0.60,250,-3.0,1000,1.5,1.0,6000,2.5,1.5,15000,1.0},
  {"15","fx",-12.0,-0.60,300,-4.0,2000,-3.0,0.8,7000,2.0,2.0,16000,3.0},
  {"16","room",-11.0,-0.10,100,-3.0,600,-2.0,1.0,4000,-2.0,1.0,9000,-3.0},
}
for _, r in ipairs(T) do
  local t = mix.track(r[2], { file = data .. "/stem" .. r[1] .. ".wav", gain_db = r[3], pan = r[4] })
  t:eq {
    mix.low_shelf  { hz = r[5],  gain_db = r[6],  q = 0.7071 },
    mix.bell       { hz = r[7],  gain_db = r[8],  q = r[9] },
    mix.bell       { hz = r[10], gain_db = r[11], q = r[12] },
    mix.high_shelf { hz = r[13], gain_db = r[14], q = 0.7071 },
  }
  t:comp { threshold_db = -18, ratio = 4, attack_ms = 10, release_ms = 100, knee_db = 0,
           detection = "peak", link = "max" }
end
local m = mix.master
m:eq { mix.low_shelf { hz = 100, gain_db = 1.5, q = 0.7071 }, mix.high_shelf { hz = 10000, gain_db = 2, q = 0.7071 } }
m:comp { threshold_db = -14, ratio = 2, attack_ms = 20, release_ms = 200, makeup_db = 4 }
m:limit { ceiling_db = -1, lookahead_ms = 5, release_ms = 100, true_peak = false }
mix.render { path = "out/mix16.wav", format = "wav32f" }
