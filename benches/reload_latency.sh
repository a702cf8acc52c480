#!/usr/bin/env bash
# Save-to-sound latency of a live reload with a 64-track script (each track: saw, 4-band EQ,
# compressor), played in real time through JACK's dummy driver (no sound card needed).
# Ten saves one second apart each change a fader, and every other save also adds or removes a
# 65th track (a change of the graph: the new nodes prepared once, an old-and-new transition
# graph, crossfade of that track's path); mixdown prints the time from the save to the audio
# thread taking the new graph ("reload applied: N ms after the save"); the new sound reaches the
# output one buffer (the default 256 frames = 5.3 ms) later. Runs `play` at its default buffer.
#   usage: benches/reload_latency.sh      (needs jackd2 and libasound2-plugins)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
D=$(mktemp -d)
trap 'kill $JACK 2>/dev/null; rm -rf "$D"' EXIT
python3 - "$D" <<'PY'
import sys
s = "mix.session { sample_rate = 48000, length_s = 3600 }\n"
for i in range(64):
    s += f"local t{i} = mix.track('t{i}', {{ osc = 'saw', hz = {110 + i * 3}, level_db = -40 }})\n"
    s += (f"t{i}:eq {{ mix.low_shelf {{ hz = 100, gain_db = 2 }}, mix.bell {{ hz = 400, q = 1.2, gain_db = -3 }}, "
          f"mix.bell {{ hz = 3000, q = 1, gain_db = 2 }}, mix.high_shelf {{ hz = 10000, gain_db = -2 }} }}\n")
    s += f"t{i}:comp {{ threshold_db = -24, ratio = 4 }}\n"
s += "t0.gain_db = GAIN\nEXTRA\n"
open(sys.argv[1] + "/base.lua", "w").write(s)
PY
EXTRA="local t64 = mix.track('t64', { osc = 'sine', hz = 220, level_db = -30 })"
sed -e 's/GAIN/0/' -e 's/EXTRA//' "$D/base.lua" > "$D/song.lua"
printf 'pcm.!default {\n type plug\n slave { pcm "jack" }\n}\n' > "$D/asound.conf"
JACK_NO_AUDIO_RESERVATION=1 jackd --no-realtime -d dummy -r 48000 -p 256 > /dev/null 2>&1 &
JACK=$!
sleep 1.5
ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$D/asound.conf" target/release/mixdown play "$D/song.lua" \
  --duration 14 --debounce-ms 50 --log-reloads 2> "$D/play.log" &
PLAY=$!
sleep 2
for i in $(seq 1 10); do
  if [ $((i % 2)) -eq 1 ]; then X="$EXTRA"; else X=""; fi
  sed -e "s/GAIN/-$i/" -e "s/EXTRA/$X/" "$D/base.lua" > "$D/tmp.lua"
  mv "$D/tmp.lua" "$D/song.lua"
  sleep 1
done
wait $PLAY
grep -E "reload applied|played|latency" "$D/play.log"
