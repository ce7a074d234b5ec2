"""Speed of the data stage: collection (episodes/s, steps/s), loading (frames/s) and sequence sampling
(batches/s, frames/s) for the smoke sizes and for batch 16 x length 64 at 64 px.

    python benchmarks/data_speed.py                       # smoke collection of four_lane + sampling
    python benchmarks/data_speed.py --task left_turn --episodes 24 --workers 2
    python benchmarks/data_speed.py --skip-collect        # sampling only (synthetic episodes)
    python benchmarks/data_speed.py --skip-collect --stream --cap-mb 256   # + disk vs memory, and peak RSS while
                                                          # training the world model on a dataset of 3.2 x the cap

Disk-backed sampling (`open_frames`, `SequenceSampler(frames, ...)`) is compared with the in-memory sampler on the
same synthetic episodes, alternating rounds so that both see the same load. The streaming check trains the `small`
profile's world model in a child process on a synthetic `Frames` of >= 3x `--cap-mb` and reports its peak RSS
against the RSS of the same process after one update on a synthetic batch and its checkpoint (the model, its
optimiser, one batch's activations): the data may add at most the cap.

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


def cpu_flags() -> str:
    flags = set(open('/proc/cpuinfo').read().split()) if os.path.exists('/proc/cpuinfo') else set()
    return ' '.join(f for f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16') if f in flags) or 'none of avx2/avx512/amx'


def bench_pair(mem, disk, batch, length, rounds=5, seconds=1.0):
    "batches/s of the in-memory and the disk sampler, alternating `rounds` rounds of `seconds` each."
    from vlsafe.data import SequenceSampler
    rate = {'memory': [], 'disk': []}
    samplers = {'memory': SequenceSampler(mem, batch, length, seed=0), 'disk': SequenceSampler(disk, batch, length, seed=0)}
    for s in samplers.values(): s.sample()
    for _ in range(rounds):
        for k, s in samplers.items():
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds: s.sample(); n += 1
            rate[k].append(n / (time.perf_counter() - t0))
    m, d = np.median(rate['memory']), np.median(rate['disk'])
    print(f"  B={batch} L={length}: memory {m:7.1f} batches/s, disk {d:7.1f} batches/s (median of {rounds} alternating "
          f"rounds) -> disk/memory = {d / m:.2f}")
    return d / m


def train_child(root, steps, profile, batch, length):
    "Runs in a child process: peak RSS of world-model training on the Frames at `root` (printed as JSON)."
    import itertools, json, resource, tempfile, torch
    torch.set_num_threads(1)
    from vlsafe.config import get_config
    from vlsafe.data import Frames, SequenceSampler
    from vlsafe.world_model import WorldModel, fit, synthetic_batch
    rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024        # Linux: KiB
    cfg = get_config(profile, {'wm.batch_size': batch, 'wm.batch_length': length}).wm
    frames = Frames(root)
    S = frames.shape[1]
    wm = WorldModel(cfg, {'kind': 'discrete', 'n': 15})
    opt = wm.make_optimizer()
    with tempfile.TemporaryDirectory() as work:     # the model's own memory (one update and its checkpoint), no data
        fit(wm, itertools.repeat(synthetic_batch(batch, length, S)), work, steps=1, progress=False, opt=opt,
            tensorboard=False)
    model = rss()
    sampler = SequenceSampler(frames, batch, length, seed=0)
    for _ in range(-(-len(frames) // (batch * length)) * 2): sampler.sample()   # draw ~2x the dataset's frames
    drained = rss()
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        fit(wm, sampler, work, steps=steps, progress=False, opt=opt, tensorboard=False)
        dt = time.perf_counter() - t0
    print(json.dumps(dict(model_rss=model, drained_rss=drained, peak_rss=rss(), data_bytes=int(np.prod(frames.shape)),
                          frames=len(frames), steps=steps, seconds_per_update=dt / steps)), flush=True)


def streaming_rss(cap_mb, steps=3, profile='small', batch=16, length=64, S=64, home=None):
    "Build a synthetic Frames of >= 3.2 x cap_mb and measure the child's peak RSS; returns the child's figures."
    import json, subprocess, sys
    from vlsafe.data import synthetic_frames
    T = 300
    episodes = int(np.ceil(3.2 * cap_mb * 2**20 / ((T + 1) * S * S * 3)))
    with tempfile.TemporaryDirectory(prefix='vlsafe-stream-', dir=home) as d:
        t0 = time.perf_counter()
        fr = synthetic_frames(d, episodes=episodes, steps=T, image_size=S)
        print(f"  wrote {len(fr)} frames ({np.prod(fr.shape) / 2**20:.0f} MiB, {episodes} episodes) in "
              f"{time.perf_counter() - t0:.1f} s")
        out = subprocess.run([sys.executable, __file__, '--train-child', d, '--steps', str(steps), '--wm-profile', profile,
                              '--batch', str(batch), '--length', str(length)], capture_output=True, text=True,
                             env=dict(os.environ, OMP_NUM_THREADS='1'))
        if out.returncode: raise RuntimeError(f"training child failed:\n{out.stderr[-3000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
    r['cap_bytes'] = cap_mb * 2**20
    mb = lambda b: f"{b / 2**20:.0f} MiB"
    print(f"  {profile} world model, B={batch} L={length}, {r['steps']} updates ({r['seconds_per_update']:.1f} s each) on "
          f"{mb(r['data_bytes'])} of frames = {r['data_bytes'] / r['cap_bytes']:.1f} x the cap of {mb(r['cap_bytes'])}:")
    print(f"  RSS model {mb(r['model_rss'])}, after drawing 2x the dataset {mb(r['drained_rss'])}, peak "
          f"{mb(r['peak_rss'])}: data adds {mb(r['peak_rss'] - r['model_rss'])} "
          f"({'under' if r['peak_rss'] - r['model_rss'] < r['cap_bytes'] else 'OVER'} the cap)")
    return r


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
    ap.add_argument('--stream', action='store_true', help='disk vs memory sampler, and peak RSS of streaming training')
    ap.add_argument('--cap-mb', type=int, default=256, help='memory cap of the streaming check (MiB)')
    ap.add_argument('--steps', type=int, default=3, help='world-model updates of the streaming check')
    ap.add_argument('--train-child', default=None, help=argparse.SUPPRESS)
    ap.add_argument('--wm-profile', default='small', help='profile of the world model the streaming check trains')
    ap.add_argument('--batch', type=int, default=16, help=argparse.SUPPRESS)
    ap.add_argument('--length', type=int, default=64, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.train_child:
        return train_child(a.train_child, a.steps, a.wm_profile, a.batch, a.length)
    from vlsafe.config import get_config
    from vlsafe.data import collect_dataset, dataset_card, load_episodes
    from vlsafe.store import Store
    print(f"cpus {os.cpu_count()} ({cpu_flags()})  load before {tuple(round(x, 2) for x in os.getloadavg())}")
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
    if a.stream:
        from vlsafe.data import write_frames, Frames
        print(f'disk-backed (open_frames layout, pread) vs in-memory sampler, the same {len(syn)} synthetic episodes:')
        with tempfile.TemporaryDirectory(prefix='vlsafe-frames-') as d:
            index = [dict(id=e.id, steps=len(e), seed=e.seed, policy=e.policy, terminated=e.terminated) for e in syn]
            write_frames(d, index, lambda k: syn[k], syn[0].bev.shape[1], progress=False)
            for b, l in ((16, 64), (8, 16)): bench_pair(syn, Frames(d), b, l, seconds=a.seconds / 3)
        print(f'streaming world-model training under a {a.cap_mb} MiB cap:')
        streaming_rss(a.cap_mb, a.steps, a.wm_profile)
    print(f"load after {tuple(round(x, 2) for x in os.getloadavg())} (shared machine: figures vary with the load)")


if __name__ == '__main__':
    main()
