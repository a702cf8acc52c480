#!/usr/bin/env python3
"""The batch benchmark's peer: the same jobs as benches/batch/four.lua with Spotify Pedalboard,
fanned out with Python multiprocessing (a Pool of worker processes; Pedalboard boards cannot be
pickled, so each worker builds its own, per job).

usage: peer_pedalboard.py MANIFEST.jsonl DATA OUTDIR --procs N

Per track: gain + balance pan (numpy), LowShelf, Peak x2, HighShelf, Compressor; bus sum; master
LowShelf, HighShelf (bright_db), Compressor, Gain(+4), BrickwallLimiter(-1, 100 ms, 5 ms).
Output: 32-bit float WAV, like the mixdown jobs (format wav32f).
"""
import argparse
import json
import multiprocessing as mp
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from pedalboard import (BrickwallLimiter, Compressor, Gain, HighShelfFilter,  # noqa: E402
                        LowShelfFilter, PeakFilter, Pedalboard)
from pedalboard.io import AudioFile  # noqa: E402

SR = 48000
Q = 0.7071
TRACKS = [  # name, stem, gain, pan, ls hz/db, p1 hz/db/q, p2 hz/db/q, hs hz/db
    ("kick", "01", -3.0, 0.00, 80, 3.0, 400, -3.0, 1.5, 3000, 2.0, 1.0, 10000, -2.0),
    ("snare", "02", -4.0, 0.05, 150, -2.0, 250, 2.0, 1.2, 5000, 3.0, 0.8, 12000, 1.5),
    ("hats", "03", -9.0, 0.30, 200, -6.0, 800, -2.0, 1.0, 8000, 2.0, 1.5, 14000, 2.0),
    ("toms", "04", -6.0, -0.25, 100, 2.0, 300, -3.0, 2.0, 4000, 2.5, 1.0, 10000, -1.0),
]
DATA = None


def job(args):
    index, values, out = args
    bus = None
    for (name, stem, gain, pan, lsh, lsd, p1h, p1d, p1q, p2h, p2d, p2q, hsh, hsd) in TRACKS:
        with AudioFile(os.path.join(DATA, f"stem{stem}.wav")) as f:
            x = f.read(f.frames)
        g = 10 ** (float(values.get(f"{name}_db", gain)) / 20)
        x = x * np.array([[g * min(1, 1 - pan)], [g * min(1, 1 + pan)]], dtype=np.float32)
        board = Pedalboard([
            LowShelfFilter(lsh, lsd, Q), PeakFilter(p1h, p1d, p1q), PeakFilter(p2h, p2d, p2q),
            HighShelfFilter(hsh, hsd, Q), Compressor(-18, 4, 10, 100),
        ])
        y = board(x, SR)
        bus = y if bus is None else bus + y
    master = Pedalboard([
        LowShelfFilter(100, 1.5, Q), HighShelfFilter(10000, float(values.get("bright_db", 2)), Q),
        Compressor(-14, 2, 20, 200), Gain(4), BrickwallLimiter(-1, 100, 5),
    ])
    y = master(bus, SR)
    with AudioFile(out, "w", SR, 2, bit_depth=32) as f:
        f.write(y)
    return index


def init(data):
    global DATA
    DATA = data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest")
    ap.add_argument("data")
    ap.add_argument("outdir")
    ap.add_argument("--procs", type=int, default=os.cpu_count())
    a = ap.parse_args()
    jobs = []
    with open(a.manifest) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            j = json.loads(line)
            jobs.append((len(jobs), j.get("set", {}), os.path.join(a.outdir, j["id"] + ".wav")))
    with mp.Pool(a.procs, initializer=init, initargs=(a.data,)) as pool:
        for _ in pool.imap_unordered(job, jobs):
            pass


if __name__ == "__main__":
    main()
