#!/usr/bin/env bash
# Times mixdown beside peer tools on the shared workloads (../shared/bench/README.md), in the same
# sitting and alternating run by run (paired A/B), and prints medians and ratios.
#   usage: benches/compare.sh [RUNS]        (default 5; needs ../shared/bench/setup.sh and
#                                            gen_stems.py done, data in $PEERS_DATA)
# Peers that are not installed are skipped. Figures are wall-clock seconds of the whole process.
# PRINT_RUNS=1 also lists every run (the spread matters on a shared VM).
set -uo pipefail
cd "$(dirname "$0")/.."
N="${1:-5}"
DATA="${PEERS_DATA:-/tmp/peers-data}"
OUT="${PEERS_OUT:-/tmp/peers-out}"
BENCH="$(cd ../shared/bench && pwd)"
mkdir -p "$OUT" /tmp/peers-bin
cargo build --release -q
gcc -O3 -march=native -o /tmp/peers-bin/ref_chain "$BENCH/limits/ref_chain.c" -lm
MD="$PWD/target/release/mixdown"
ARGS=(--allow-read "$DATA" --set "data=$DATA" --quiet)

declare -A CMD
CMD[mix16_mixdown_1t]="$MD render $PWD/benches/mix16.lua ${ARGS[*]} --threads 1 -o $OUT/md_mix16.wav"
CMD[mix16_mixdown_2t]="$MD render $PWD/benches/mix16.lua ${ARGS[*]} --threads 2 -o $OUT/md2_mix16.wav"
CMD[mix16_ref_chain_c]="/tmp/peers-bin/ref_chain mix16 $BENCH/mix16_tracks.tsv $DATA $OUT/ref_mix16.wav"
python3 -c "import pedalboard" 2>/dev/null && CMD[mix16_pedalboard]="python3 $BENCH/run_pedalboard.py mix16 $OUT/pb_mix16.wav"
command -v ecasound >/dev/null && CMD[mix16_ecasound]="bash $BENCH/run_ecasound.sh mix16 $OUT/eca_mix16.wav"
command -v ffmpeg >/dev/null && CMD[mix16_ffmpeg]="bash $BENCH/run_ffmpeg.sh mix16 $OUT/ff_mix16.wav"
CMD[master1_mixdown]="$MD render $PWD/benches/master1.lua ${ARGS[*]} --threads 1 -o $OUT/md_master1.wav"
CMD[master1_ref_chain_c]="/tmp/peers-bin/ref_chain master1 - $DATA $OUT/ref_master1.wav"
python3 -c "import pedalboard" 2>/dev/null && CMD[master1_pedalboard]="python3 $BENCH/run_pedalboard.py master1 $OUT/pb_master1.wav"
CMD[loudness_mixdown]="$MD measure $DATA/premix.wav"
command -v ffmpeg >/dev/null && CMD[loudness_ffmpeg]="bash $BENCH/run_ffmpeg.sh loudness"

names=($(printf '%s\n' "${!CMD[@]}" | sort))
declare -A T
for run in $(seq 0 "$N"); do            # run 0 is the warm-up
  for name in "${names[@]}"; do
    s=$(date +%s.%N)
    (cd "$BENCH" && eval "${CMD[$name]}") > /dev/null 2>&1 || { echo "$name failed" >&2; continue; }
    e=$(date +%s.%N)
    [ "$run" -gt 0 ] && T[$name]+="$(awk -v a="$s" -v b="$e" 'BEGIN { print b - a }') "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A M
for name in "${names[@]}"; do M[$name]=$(echo "${T[$name]:-}" | median); done
printf '%-22s %9s %11s\n' task "median s" "x realtime"
for name in "${names[@]}"; do
  secs=180; [[ $name == mix16* ]] && secs=2880
  [ -n "${M[$name]}" ] && printf '%-22s %9.3f %11.0f\n' "$name" "${M[$name]}" "$(awk -v a="$secs" -v b="${M[$name]}" 'BEGIN { print a / b }')"
done
if [ -n "${PRINT_RUNS:-}" ]; then
  echo; echo "runs (s):"
  for name in "${names[@]}"; do printf '%-22s %s\n' "$name" "${T[$name]:-}"; done
fi
echo
ratio() { [ -n "${M[$1]:-}" ] && [ -n "${M[$2]:-}" ] && printf '%-44s %6.2fx\n' "$2 / $1" "$(awk -v a="${M[$2]}" -v b="${M[$1]}" 'BEGIN { print a / b }')"; }
for peer in mix16_pedalboard mix16_ecasound mix16_ffmpeg mix16_ref_chain_c; do ratio mix16_mixdown_1t "$peer"; done
ratio mix16_mixdown_2t mix16_mixdown_1t
ratio master1_mixdown master1_pedalboard
ratio master1_mixdown master1_ref_chain_c
ratio loudness_mixdown loudness_ffmpeg
