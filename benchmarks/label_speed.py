"""Labeling throughput per CLIP size and dtype, next to the bare image encoder at the same batch size.

For each of the paper's four CLIP sizes (random weights: a forward pass costs the same as with real weights) and each
dtype, it times
  - bare:  `model.encode_image(x)` on an already preprocessed batch (the floor: nothing but the encoder),
  - job:   `label_dataset` end to end on constructed episodes of uint8 BEV frames (preprocessing, batching, cosines,
           softmax, chunk files, manifest) with the same batch size,
alternating the two `--repeats` times and keeping each one's best run (the machine may be shared), and prints
frames/s, the job's overhead over the bare encoder (across runs, and within the job run itself: its wall time over
the time spent inside `encode_image`, which load changes on a shared machine cannot skew), and the max
|p_bf16 − p_fp32| over the same frames.
A size whose weights do not fit the available memory is reported as such instead of being run.

    python benchmarks/label_speed.py                                  # all four sizes, fp32 and bf16
    python benchmarks/label_speed.py --models ViT-B-32 --batches 4    # one size

With `--train`, it times instead one BEV-CLIP training step (`vlsafe.vlm.train_step`: preprocessing, forward,
`ClipLoss`, backward, AdamW) per size at the profile's `vlm.batch_size`, and extrapolates to the profile's
`vlm.steps`. Besides wall time it records the process CPU time per step: on a shared machine the wall time grows
with other jobs' load, while CPU time per step is what the step costs on cores of its own. It prints the CPU flags.

    python benchmarks/label_speed.py --train --threads 1 --profile small          # bev-clip-xs, -s, -m, -l
"""
from __future__ import annotations
import argparse, json, os, sys, tempfile, time, warnings
from pathlib import Path
import numpy as np
import torch

def n_params(model_name: str) -> int:
    "Parameter count without allocating (meta device)."
    import open_clip
    from open_clip.factory import get_model_config
    with torch.device('meta'):
        m = open_clip.model.CLIP(**get_model_config(model_name))
    return sum(p.numel() for p in m.parameters())

def bev_frames(n: int, size: int, seed: int = 0) -> np.ndarray:
    "BEV-like uint8 frames: dark road, a few coloured boxes (content does not change the timing)."
    rng = np.random.default_rng(seed)
    f = np.full((n, size, size, 3), 40, np.uint8)
    for i in range(n):
        for c in [(255, 0, 0), (0, 255, 0), (0, 255, 0), (0, 0, 255), (255, 165, 0)]:
            y, x = rng.integers(0, size - 12, 2); f[i, y:y + 12, x:x + 6] = c
    return f

def cpu_flags() -> str:
    "The vector-unit flags of this CPU that decide matmul speed (avx2, avx512f, avx512_bf16, amx_bf16)."
    try: flags = open('/proc/cpuinfo').read().split('flags')[1].split('\n')[0].split()
    except (OSError, IndexError): return 'unknown'
    return ' '.join(f for f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16') if f in flags) or 'none of avx2/avx512/amx'

def train_speed(a):
    "Seconds per BEV-CLIP training step (wall and process CPU), extrapolated to the profile's vlm.steps."
    import open_clip
    from vlsafe.config import get_config, SAFE_PROMPT, UNSAFE_PROMPT
    from vlsafe.label import BEV_CLIP_CONFIGS, FramePreprocess, bev_clip_name, register_local_model
    from vlsafe.vlm import make_optimizer, train_step
    cfg = get_config(a.profile)
    B, steps = cfg.vlm.batch_size, cfg.vlm.steps
    print(f'# vlm train_speed  profile={a.profile} batch={B} steps={steps} threads={a.threads} frame={a.frame}px  '
          f'cpu flags: {cpu_flags()}  cpus={os.cpu_count()}  loadavg(1,5,15)={os.getloadavg()}  torch={torch.__version__}',
          flush=True)
    rows = []
    for size in a.sizes.split(','):
        name = bev_clip_name(size); register_local_model(name)
        torch.manual_seed(0)
        model = open_clip.create_model(name); tok = open_clip.get_tokenizer(name)
        pre = FramePreprocess.from_cfg(open_clip.get_model_preprocess_cfg(model))
        opt, loss = make_optimizer(model, 1e-4, 0.1), open_clip.ClipLoss()
        frames = torch.from_numpy(bev_frames(B, a.frame))
        caps = tok(['red car at 6 m/s in its lane. green car 12 m ahead, closing 3 m/s. green car 5 m left.',
                    SAFE_PROMPT, UNSAFE_PROMPT, 'red car at 3 m/s out of its lane. no car near.'] * (B // 4 + 1))[:B]
        train_step(model, loss, opt, pre, frames, caps, 1e-4)   # warm-up
        wall, cpu = [], []
        for _ in range(a.batches):
            t0, c0 = time.perf_counter(), time.process_time()
            train_step(model, loss, opt, pre, frames, caps, 1e-4)
            wall.append(time.perf_counter() - t0); cpu.append(time.process_time() - c0)
        n = sum(p.numel() for p in model.parameters())
        row = dict(model=name, params_M=round(n / 1e6, 3), batch=B, threads=a.threads, wall_s_per_step=round(min(wall), 3),
                   cpu_s_per_step=round(min(cpu), 3), steps=steps,
                   cpu_minutes_for_steps=round(min(cpu) * steps / 60, 1), wall_minutes_for_steps=round(min(wall) * steps / 60, 1),
                   loadavg_1m=round(os.getloadavg()[0], 2))
        print(row, flush=True); rows.append(row)
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(argv=sys.argv, cpu_flags=cpu_flags(), loadavg_end=os.getloadavg(), rows=rows), indent=1))
    print(f'\n| model | params (M) | batch | wall s/step | CPU s/step | {steps} steps: CPU min (wall min) |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['model']} | {r['params_M']} | {r['batch']} | {r['wall_s_per_step']} | {r['cpu_s_per_step']} | "
              f"{r['cpu_minutes_for_steps']} ({r['wall_minutes_for_steps']}) |")
    print(f'\nloadavg at end: {os.getloadavg()}  (machine shared with other jobs: CPU time is the per-core cost)')

def main(argv=None):
    from vlsafe.label import CLIP_PRESETS, ClipScorer, label_dataset, register_tiny_clip
    register_tiny_clip()   # `--models vlsafe-tiny-clip` checks the script in seconds
    from vlsafe.config import get_config
    from vlsafe.store import Store
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--models', default=','.join(CLIP_PRESETS))
    ap.add_argument('--dtypes', default='fp32,bf16')
    ap.add_argument('--batch', default='ViT-B-32=16,ViT-L-14=8,ViT-H-14=4,ViT-bigG-14=2',
                    help='batch size per model (name=B,...) or one number for all')
    ap.add_argument('--batches', type=int, default=2, help='timed batches per measurement')
    ap.add_argument('--repeats', type=int, default=2, help='alternating bare/job measurements; the best of each is kept')
    ap.add_argument('--frame', type=int, default=128, help='BEV side in pixels (CarDreamer: 128)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--out', default=None, help='JSON file (default results/label_speed/label_speed.json, '
                    'or vlm_train_speed.json with --train)')
    ap.add_argument('--train', action='store_true', help='time BEV-CLIP training steps instead of labelling')
    ap.add_argument('--sizes', default='xs,s,m,l', help='BEV-CLIP sizes (with --train)')
    ap.add_argument('--profile', default='small', help='profile whose vlm.batch_size and vlm.steps are used (with --train)')
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    warnings.filterwarnings('ignore')
    if a.train:
        a.out = a.out or 'results/label_speed/vlm_train_speed.json'
        if a.frame == 128: a.frame = 64   # the small profile's BEV size
        return train_speed(a)
    a.out = a.out or 'results/label_speed/label_speed.json'
    import psutil
    bs = ({kv.split('=')[0]: int(kv.split('=')[1]) for kv in a.batch.split(',')} if '=' in a.batch
          else {m: int(a.batch) for m in CLIP_PRESETS})
    print(f'# label_speed  device={a.device} threads={a.threads} frame={a.frame}px  loadavg(1,5,15)={os.getloadavg()}  '
          f'cpus={os.cpu_count()}  torch={torch.__version__}', flush=True)
    rows = []
    for name in a.models.split(','):
        model = CLIP_PRESETS.get(name, (name,))[0]; B = bs.get(name, 16); n = B * a.batches
        P = n_params(model)
        need = P * 4 * 1.25 + 2e9   # fp32 weights while building (open_clip casts to bf16 after), plus activations
        avail = psutil.virtual_memory().available
        p32 = None
        for dtype in a.dtypes.split(','):
            row = dict(model=name, open_clip=model, params_M=round(P / 1e6), dtype=dtype, batch=B, frames=n)
            if need > avail:
                row['note'] = f'does not fit memory: needs ~{need / 2**30:.1f} GiB, {avail / 2**30:.1f} GiB available'
                print(row, flush=True); rows.append(row); continue
            t0 = time.time()
            sc = ClipScorer(model, 'random', dtype=dtype, batch_size=B, device=a.device).load()
            row['load_s'] = round(time.time() - t0, 1)
            frames = bev_frames(n, a.frame)
            x = sc.preprocess(torch.from_numpy(frames[:B]).to(a.device))
            eps = [type('Ep', (), dict(id=0, bev=frames, infos={}, policy='bench'))()]
            cfg = get_config('smoke', {'label.model': model, 'label.pretrained': 'random', 'label.dtype': dtype,
                                       'label.batch_size': B, 'label.chunk_frames': n})
            with torch.inference_mode(): sc.encode(x)   # warm-up
            bare, job, enc_share = [], [], []
            inner = sc.encode; spent = [0.0]
            def timed_encode(x):   # the encoder's own time inside the job: overhead measured within one run
                t = time.perf_counter(); y = inner(x); spent[0] += time.perf_counter() - t; return y
            for r in range(a.repeats):
                t0 = time.perf_counter()
                with torch.inference_mode():
                    for _ in range(a.batches): sc.encode(x)
                bare.append(n / (time.perf_counter() - t0))
                with tempfile.TemporaryDirectory() as d:
                    sc.encode, spent[0] = timed_encode, 0.0
                    t0 = time.perf_counter()
                    label_dataset(cfg, f'dataset-bench{r}', Store(d), progress=False, scorer=sc, episodes=eps)
                    dt = time.perf_counter() - t0; sc.encode = inner
                    job.append(n / dt); enc_share.append(dt / spent[0] - 1)
            p = sc.score_frames(frames) if len(a.dtypes.split(',')) > 1 else None   # only for the Δp column
            row.update(bare_fps=round(max(bare), 3), job_fps=round(max(job), 3),
                       overhead_pct=round(100 * (max(bare) / max(job) - 1), 1),
                       in_job_overhead_pct=round(100 * min(enc_share), 1), loadavg_1m=round(os.getloadavg()[0], 2))
            if dtype == 'fp32': p32 = p
            elif p32 is not None: row['max_abs_dp_vs_fp32'] = float(np.abs(p - p32).max())
            print(row, flush=True); rows.append(row)
            del sc, x
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(argv=sys.argv, loadavg_end=os.getloadavg(), rows=rows), indent=1))
    print('\n| model | params (M) | dtype | batch | bare encode_image (frames/s) | label job (frames/s) | job/bare − 1 | '
          'non-encoder time in job | max abs Δp vs fp32 |')
    print('|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        if 'note' in r: print(f"| {r['model']} | {r['params_M']} | {r['dtype']} | {r['batch']} | – | – | {r['note']} | – | – |"); continue
        dp = f"{r['max_abs_dp_vs_fp32']:.2e}" if 'max_abs_dp_vs_fp32' in r else '–'
        print(f"| {r['model']} | {r['params_M']} | {r['dtype']} | {r['batch']} | {r['bare_fps']:.2f} | {r['job_fps']:.2f} | "
              f"{r['overhead_pct']:+.1f}% | {r.get('in_job_overhead_pct', float('nan')):+.1f}% | {dp} |")
    print(f'\nloadavg at end: {os.getloadavg()}  (2-core machine shared with other jobs)')

if __name__ == '__main__':
    main()
