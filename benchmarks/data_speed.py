"""Speed of the data stage: collection (episodes/s, steps/s), loading (frames/s) and sequence sampling
(batches/s, frames/s) for the smoke sizes and for batch 16 x length 64 at 64 px.

    python benchmarks/data_speed.py                       # smoke collection of four_lane + sampling
    python benchmarks/data_speed.py --task left_turn --episodes 24 --workers 2
    python benchmarks/data_speed.py --skip-collect        # sampling only (synthetic episodes)

Collection runs in a fresh temporary store (so it really collects). Prints os.getloadavg() beside the figures:
on a shared machine the numbers move with the load.
"""
from __future__ import annotations
import argparse, os, tempfile, time
import numpy as np


def bench_sampler(episodes, batch, length, seconds=3.0, labels=None):
    from vlsafe.data import SequenceSampler
    s = SequenceSampler(episodes, batch, length, seed=0, labels=labels)
    s.sample()                                                  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s.sample(); n += 1
    dt = time.perf_counter() - t0
    S = episodes[0].bev.shape[1]
    print(f"  sample B={batch:<3} L={length:<3} {S}px: {n / dt:8.1f} batches/s  {n * batch * length / dt:10.0f} frames/s"
          f"  ({1e3 * dt / n:.2f} ms/batch)")


def synthetic(n_eps=40, T=300, S=64, seed=0):
    from vlsafe.data import Episode
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_eps):
        bev = rng.integers(0, 255, (T + 1, S, S, 3), dtype=np.uint8)
        out.append(Episode(i, 'expert', bev, rng.integers(0, 15, T), rng.normal(size=T).astype(np.float32),
                           np.zeros(T, np.float32), True, False, {}))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--profile', default='smoke')
    ap.add_argument('--task', default='four_lane')
    ap.add_argument('--episodes', type=int, default=None, help='default: the profile\'s data.episodes')
    ap.add_argument('--workers', type=int, default=None, help='default: the profile\'s data.workers')
    ap.add_argument('--skip-collect', action='store_true')
    ap.add_argument('--seconds', type=float, default=3.0, help='time per sampling measurement')
    a = ap.parse_args()
    from vlsafe.config import get_config
    from vlsafe.data import collect_dataset, dataset_card, load_episodes
    from vlsafe.store import Store
    print(f"cpus {os.cpu_count()}  load before {tuple(round(x, 2) for x in os.getloadavg())}")
    eps = None
    if not a.skip_collect:
        over = {'env.task': a.task}
        if a.episodes: over['data.episodes'] = a.episodes
        if a.workers: over['data.workers'] = a.workers
        cfg = get_config(a.profile, over)
        with tempfile.TemporaryDirectory(prefix='vlsafe-bench-') as home:
            store = Store(home)
            t0 = time.perf_counter()
            ds = collect_dataset(cfg, store, progress=True)
            dt = time.perf_counter() - t0
            card = dataset_card(ds, store)
            print(f"collect {a.profile}/{a.task}: {card['episodes']} episodes, {card['steps']} steps, "
                  f"{cfg.env.image_size}px, {cfg.data.workers} workers in {dt:.1f} s (incl. worker start, Minari "
                  f"assembly, card) -> {card['episodes'] / dt:.2f} episodes/s, {card['steps'] / dt:.0f} steps/s; "
                  f"load {tuple(round(x, 2) for x in os.getloadavg())}")
            t0 = time.perf_counter()
            eps = load_episodes(ds, store)
            dt = time.perf_counter() - t0
            frames = sum(len(e) + 1 for e in eps)
            print(f"load_episodes: {frames} frames in {dt:.2f} s -> {frames / dt:.0f} frames/s (SHA-256 verified)")
            print('sampling the collected dataset:')
            bench_sampler(eps, cfg.wm.batch_size, cfg.wm.batch_length, a.seconds)
            bench_sampler(eps, 16, 64, a.seconds)
    syn = synthetic()
    print(f'sampling synthetic episodes ({len(syn)} x 301 frames, 64 px; with labels):')
    labels = {e.id: np.full(len(e) + 1, .5, np.float32) for e in syn}
    for b, l in ((8, 16), (16, 64), (64, 64)):
        bench_sampler(syn, b, l, a.seconds, labels)
    print(f"load after {tuple(round(x, 2) for x in os.getloadavg())} (shared machine: figures vary with the load)")


if __name__ == '__main__':
    main()
