"""Streaming: the world model trains on disk-backed frames (`vlsafe.data.Frames`) of more than 3x a memory cap, and the
training process's peak RSS exceeds that of the model alone by less than the cap (the in-memory path would need the
whole dataset). The measurement runs in a child process (benchmarks/data_speed.py --train-child) so that its peak
RSS is its own."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
from vlsafe.data import Frames, SequenceSampler, synthetic_frames

ROOT = Path(__file__).resolve().parents[1]
CAP = 48 * 2**20


def test_world_model_trains_under_memory_cap(tmp_path):
    T, S = 100, 64
    fr = synthetic_frames(tmp_path / 'frames', episodes=int(np.ceil(3.2 * CAP / ((T + 1) * S * S * 3))), steps=T, image_size=S)
    assert np.prod(fr.shape) >= 3 * CAP
    out = subprocess.run([sys.executable, str(ROOT / 'benchmarks' / 'data_speed.py'), '--train-child', str(fr.root),
                          '--steps', '3', '--wm-profile', 'smoke', '--batch', '8', '--length', '16'],
                         capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS='1'), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r['data_bytes'] >= 3 * CAP and r['frames'] == len(fr) and r['steps'] == 3
    assert r['peak_rss'] - r['model_rss'] < CAP, r


def test_disk_sampler_reads_what_was_written(tmp_path):
    fr = synthetic_frames(tmp_path / 'f', episodes=3, steps=20, image_size=16, seed=4)
    again = synthetic_frames(tmp_path / 'g', episodes=3, steps=20, image_size=16, seed=4)
    assert np.array_equal(fr[:], again[:]) and not np.array_equal(fr[:21], fr[21:42])
    b = SequenceSampler(Frames(fr.root), 4, 30, seed=1).sample()
    assert b['image'].shape == (4, 30, 16, 16, 3) and b['is_first'].any()
