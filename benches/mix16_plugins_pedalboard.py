#!/usr/bin/env python3
"""Pedalboard beside benches/mix16_plugins.lua: the mix16 workload with zam-plugins' VST3s.

usage: mix16_plugins_pedalboard.py OUT.wav [--block FRAMES]

Per track: numpy gain + balance pan (as ../shared/bench/run_pedalboard.py) -> ZamEQ2.vst3, one
instance per channel (it is mono; Pedalboard refuses a mono plugin on stereo audio) ->
ZamCompX2.vst3 (stereo).  The parameters are those of mix16_plugins.lua.  Bus sum in numpy.
Master: Pedalboard's built-in chain of run_pedalboard.py.  Output: 32-bit float WAV.  Streamed
in blocks, one thread does the DSP.
"""
import argparse
import math
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from pedalboard import load_plugin  # noqa: E402
from pedalboard.io import AudioFile  # noqa: E402

BENCH = os.environ.get("PEERS_BENCH", os.path.join(os.path.dirname(__file__), "../../shared/bench"))
sys.path.insert(0, os.path.abspath(BENCH))
import workload as W  # noqa: E402
from run_pedalboard import master_board  # noqa: E402

VST3 = os.environ.get("VST3_DIR", "/usr/lib/vst3")


def octaves(q):
    x = 1 / (2 * q)
    return 2 / math.log(2) * math.asinh(x)


def eq(t):
    p = load_plugin(os.path.join(VST3, "ZamEQ2.vst3"))
    p.frequency_l_hz = t["ls_hz"]
    p.boost_cut_l_db = t["ls_db"]
    p.frequency_1_hz = t["p1_hz"]
    p.boost_cut_1_db = t["p1_db"]
    p.bandwidth_1 = octaves(t["p1_q"])
    p.frequency_2_hz = t["p2_hz"]
    p.boost_cut_2_db = t["p2_db"]
    p.bandwidth_2 = octaves(t["p2_q"])
    p.frequency_h_hz = min(t["hs_hz"], 14000)
    p.boost_cut_h_db = t["hs_db"]
    return p


def comp():
    p = load_plugin(os.path.join(VST3, "ZamCompX2.vst3"))
    p.threshold_db = -18
    p.ratio = 4
    p.attack_ms = 10
    p.release_ms = 100
    p.knee_db = 0
    p.stereo_detection = True
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--block", type=int, default=8192)
    a = ap.parse_args()
    sr, B = W.SR, a.block
    master = master_board()
    tracks = W.tracks()
    files = [AudioFile(t["path"]) for t in tracks]
    eqs = [(eq(t), eq(t)) for t in tracks]
    comps = [comp() for _ in tracks]
    pans = [np.array(W.pan_gains(t["gain_db"], t["pan"]), dtype=np.float32)[:, None] for t in tracks]
    frames = files[0].frames
    with AudioFile(a.out, "w", sr, 2, bit_depth=32) as out:
        pos = 0
        while pos < frames:
            n = min(B, frames - pos)
            bus = np.zeros((2, n), dtype=np.float32)
            for f, (el, er), c, p in zip(files, eqs, comps, pans):
                x = f.read(n)
                x *= p
                y = np.concatenate([el.process(x[0:1], sr, reset=False),
                                    er.process(x[1:2], sr, reset=False)])
                bus += c.process(y, sr, reset=False)
            out.write(master.process(bus, sr, reset=False))
            pos += n
    for f in files:
        f.close()


if __name__ == "__main__":
    main()
