#!/usr/bin/env bash
# `mixdown batch` beside Pedalboard + Python multiprocessing on the same jobs, in the same run:
# JOBS (default 200) 30 s mixes of four stems with different balances (benches/batch/four.lua;
# the peer is benches/batch/peer_pedalboard.py), on 1 and 2 cores, as jobs per minute; then peak
# memory (RSS) of a batch of JOBS/10 jobs against JOBS jobs, which should be the same.
#   usage: benches/batch.sh [JOBS] [RUNS]     (needs ffmpeg; the peer needs
#                                              `pip install numpy pedalboard`; stems from
#                                              ../shared/bench/gen_stems.py in $PEERS_DATA)
# Runs alternate tool by tool (paired); figures are medians of RUNS (default 1) after no warm-up
# beyond the first render of the stems into the page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${1:-200}"
RUNS="${2:-1}"
PEERS="${PEERS_DATA:-/tmp/peers-data}"
DATA=/tmp/batch-bench
OUT=/tmp/batch-bench-out
mkdir -p "$DATA" "$OUT"
if [ ! -f "$PEERS/stem04.wav" ]; then
  python3 ../shared/bench/gen_stems.py
fi
for s in 01 02 03 04; do
  [ -f "$DATA/stem$s.wav" ] || ffmpeg -v error -y -i "$PEERS/stem$s.wav" -t 30 -c:a pcm_f32le "$DATA/stem$s.wav"
done
cp benches/batch/four.lua "$DATA/four.lua"
manifest() {  # manifest N FILE: N jobs with different balances
  awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
    printf "{\"id\": \"j%03d\", \"script\": \"four.lua\", \"format\": \"wav32f\", \"set\": {\"data\": \"'"$DATA"'\", \"kick_db\": %.1f, \"snare_db\": %.1f, \"hats_db\": %.1f, \"toms_db\": %.1f, \"bright_db\": %.1f}}\n",
      i, -3 + (i % 5) - 2, -4 + (i % 7) * 0.5 - 1.5, -9 + (i % 3), -6 - (i % 4), 2 - (i % 6) * 0.5 }' > "$2"
}
manifest "$JOBS" "$DATA/jobs.jsonl"
manifest $((JOBS / 10)) "$DATA/small.jsonl"
cargo build --release -q
MD="$PWD/target/release/mixdown"
PEER="python3 $PWD/benches/batch/peer_pedalboard.py"
have_peer=1
python3 -c "import pedalboard, numpy" 2>/dev/null || { have_peer=0; echo "(pedalboard not installed: mixdown only)"; }

declare -A T R
run() {  # run NAME CMD...: wall seconds and peak RSS (KiB) into T and R
  local name=$1; shift
  rm -rf "$OUT"/*; rm -f "$DATA"/*.results*.jsonl
  local f; f=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$f" "$@" > /dev/null 2>&1 || { echo "$name failed" >&2; cat "$f" >&2; }
  read -r secs rss < "$f"; rm -f "$f"
  T[$name]+="$secs "; R[$name]+="$rss "
}
for _ in $(seq 1 "$RUNS"); do
  for cores in 1 2; do
    run "mixdown_$cores" "$MD" batch "$DATA/jobs.jsonl" --jobs "$cores" --allow-read "$DATA" --out-dir "$OUT"
    [ $have_peer = 1 ] && run "pedalboard_$cores" $PEER "$DATA/jobs.jsonl" "$DATA" "$OUT" --procs "$cores"
  done
  run "mixdown_small_2" "$MD" batch "$DATA/small.jsonl" --jobs 2 --allow-read "$DATA" --out-dir "$OUT"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
printf '%-18s %6s %9s %10s %12s\n' tool jobs "median s" "jobs/min" "peak RSS MiB"
for name in mixdown_1 pedalboard_1 mixdown_2 pedalboard_2 mixdown_small_2; do
  [ -n "${T[$name]:-}" ] || continue
  n=$JOBS; [ "$name" = mixdown_small_2 ] && n=$((JOBS / 10))
  s=$(echo "${T[$name]}" | median); r=$(echo "${R[$name]}" | median)
  printf '%-18s %6d %9.2f %10.0f %12.1f\n' "$name" "$n" "$s" "$(awk -v n="$n" -v s="$s" 'BEGIN { print n * 60 / s }')" "$(awk -v r="$r" 'BEGIN { print r / 1024 }')"
done
echo
for c in 1 2; do
  [ -n "${T[pedalboard_$c]:-}" ] && printf 'jobs/min, mixdown / pedalboard on %d core(s): %.2fx\n' "$c" \
    "$(awk -v a="$(echo "${T[pedalboard_$c]}" | median)" -v b="$(echo "${T[mixdown_$c]}" | median)" 'BEGIN { print a / b }')"
done
printf 'mixdown, 2 jobs at once / 1: %.2fx\n' "$(awk -v a="$(echo "${T[mixdown_1]}" | median)" -v b="$(echo "${T[mixdown_2]}" | median)" 'BEGIN { print a / b }')"
