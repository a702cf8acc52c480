#!/usr/bin/env bash
# mix16 with third-party plugins (benches/mix16_plugins.lua: zam-plugins' ZamEQ2 per channel and
# ZamCompX2 per track instead of the built-in EQ and compressor), mixdown beside Pedalboard
# hosting the same processors as VST3 (benches/mix16_plugins_pedalboard.py), in the same sitting
# and alternating run by run; prints medians of wall-clock and CPU seconds, and ratios.
#   usage: benches/plugins.sh [RUNS]     (default 3; needs zam-plugins, pedalboard, and the
#                                         stems of ../shared/bench/gen_stems.py in $PEERS_DATA)
# mixdown runs with --threads 1 in each plugin format it hosts (clap, lv2, vst3).
set -uo pipefail
cd "$(dirname "$0")/.."
N="${1:-3}"
DATA="${PEERS_DATA:-/tmp/peers-data}"
OUT="${PEERS_OUT:-/tmp/peers-out}"
BENCH="$(cd ../shared/bench && pwd)"
mkdir -p "$OUT"
cargo build --release -q
MD="$PWD/target/release/mixdown"
ARGS=(--allow-read "$DATA" --set "data=$DATA" --quiet)

declare -A CMD
for f in ${FORMATS:-clap lv2 vst3}; do
  CMD[mixdown_$f]="$MD render $PWD/benches/mix16_plugins.lua ${ARGS[*]} --threads 1 --set format=$f -o $OUT/md_plugins_$f.wav"
done
# The 16 tracks' plugins on two render threads (Pedalboard runs them on one).
f="${FORMATS:-clap}"; f="${f%% *}"
CMD[mixdown_${f}_2t]="$MD render $PWD/benches/mix16_plugins.lua ${ARGS[*]} --threads 2 --set format=$f -o $OUT/md2_plugins_$f.wav"
python3 -c "import pedalboard" 2>/dev/null &&
  CMD[pedalboard_vst3]="env PEERS_BENCH=$BENCH PEERS_DATA=$DATA python3 $PWD/benches/mix16_plugins_pedalboard.py $OUT/pb_plugins.wav"

names=($(printf '%s\n' "${!CMD[@]}" | sort))
declare -A W C
for run in $(seq 0 "$N"); do            # run 0 is the warm-up
  for name in "${names[@]}"; do
    /usr/bin/time -o "$OUT/time.txt" -f "%e %U %S" bash -c "${CMD[$name]}" > /dev/null 2>&1
    t=$(tail -1 "$OUT/time.txt")
    case "$t" in *[!0-9.\ ]*|"") echo "$name failed: $t" >&2; continue ;; esac
    [ "$run" -gt 0 ] || continue
    W[$name]+="$(echo "$t" | awk '{ print $1 }') "
    C[$name]+="$(echo "$t" | awk '{ print $2 + $3 }') "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
printf '%-18s %8s %8s %11s\n' task "wall s" "CPU s" "x realtime"
declare -A MW MC
for name in "${names[@]}"; do
  MW[$name]=$(echo "${W[$name]:-}" | median)
  MC[$name]=$(echo "${C[$name]:-}" | median)
  [ -n "${MW[$name]}" ] && printf '%-18s %8.2f %8.2f %11.0f\n' "$name" "${MW[$name]}" "${MC[$name]}" \
    "$(awk -v b="${MW[$name]}" 'BEGIN { print 2880 / b }')"
done
echo
for name in "${names[@]}"; do
  [[ $name == mixdown_* ]] || continue
  [ -n "${MW[pedalboard_vst3]:-}" ] && [ -n "${MW[$name]}" ] && printf '%-36s wall %5.2fx  CPU %5.2fx\n' \
    "pedalboard_vst3 / $name" \
    "$(awk -v a="${MW[pedalboard_vst3]}" -v b="${MW[$name]}" 'BEGIN { print a / b }')" \
    "$(awk -v a="${MC[pedalboard_vst3]}" -v b="${MC[$name]}" 'BEGIN { print a / b }')"
done
echo
echo "loudness of the outputs (same plugins and settings; the master chains are each tool's own):"
for f in "$OUT"/md_plugins_*.wav "$OUT"/pb_plugins.wav; do
  [ -f "$f" ] && printf '%-22s %s\n' "$(basename "$f")" "$("$MD" measure "$f" 2>/dev/null | grep -m1 integrated)"
done
