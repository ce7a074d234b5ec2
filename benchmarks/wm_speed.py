"""Seconds per world-model update and peak memory at the two fixed benchmark configurations.

    python benchmarks/wm_speed.py                       # both configs, fp32 eager, 2 threads
    python benchmarks/wm_speed.py --configs tiny --updates 7 --breakdown
    python benchmarks/wm_speed.py --variants eager,nchw,foreach,fused,bf16,compile   # losses compared with eager
    python benchmarks/wm_speed.py --curves 400 --json results/wm_speed/precision_curves.json   # bf16 vs fp32 training

Variants: eager (fp32, channels-last convs, Adam's default per-tensor loop), nchw (convs in NCHW), foreach / fused
(Adam implementations), bf16 (autocast to bfloat16 through `vlsafe.nets.autocast_context`), auto (what
`run.precision=auto` picks on this machine), compile (torch.compile of encoder, decoder and heads; the first two
warm-up updates include compilation). Every run prints the CPU's model and bf16 flags and the precision it ran at.

`--curves N` trains the `mini` configuration (B8 x L16, 32 px, deter 64: small enough that emulated bf16 finishes in
minutes) for N updates twice from the same initial weights on the same stream of synthetic batches, once in fp32 and
once under bf16 autocast, and writes every update's loss terms (the notebook 04c_world_model plots them).

Configurations (64x64x3 frames, Discrete(15) actions):
  paper: batch 16 x length 64, deter 512, units 512, 32x32 stochastic, CNN depth 32, 2-layer heads, 255 bins
  tiny:  batch 16 x length 32, deter 256, units 256, 32x32 stochastic, CNN depth 16, 2-layer heads, 255 bins
Each (config, variant) runs in its own subprocess so that its peak RSS is its own. The machine may be shared: the
script prints os.getloadavg() and both the wall time and the process CPU time of each update (CPU time / threads
is what the update would take on otherwise idle cores); medians over `--updates` updates after 2 warm-up updates.
OMP_WAIT_POLICY defaults to PASSIVE here: with the cores shared, spinning OpenMP workers make small ops 10x slower.
"""
import argparse, contextlib, json, os, subprocess, sys, time

CONFIGS = {
    'paper': dict(B=16, L=64, wm=dict(image_size=64, deter=512, units=512, stoch=32, classes=32, cnn_depth=32, layers=2, bins=255)),
    'tiny': dict(B=16, L=32, wm=dict(image_size=64, deter=256, units=256, stoch=32, classes=32, cnn_depth=16, layers=2, bins=255)),
    'mini': dict(B=8, L=16, wm=dict(image_size=32, deter=64, units=64, stoch=8, classes=8, cnn_depth=8, layers=1, bins=63,
                                    lr=3e-4)),
}

def machine() -> dict:
    "CPU model, the flags that decide bf16 speed, and what run.precision=auto resolves to here."
    from vlsafe.nets import BF16_CPU_FLAGS, cpu_flags, resolve_precision
    flags, model = cpu_flags(), ''
    try: model = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass
    return dict(cpu=model, **{f: f in flags for f in ('avx2', 'avx512f', *BF16_CPU_FLAGS)},
                auto_precision=resolve_precision('auto', 'cpu'))

def child(args):
    import resource
    import numpy as np, torch
    torch.set_num_threads(args.threads)
    from vlsafe.config import WorldModelConfig
    from vlsafe.world_model import WorldModel, synthetic_batch
    c = CONFIGS[args.config]
    torch.manual_seed(0)
    wm = WorldModel(WorldModelConfig(**c['wm']), 15)
    v = args.variant
    opt = wm.make_optimizer()
    if v == 'nchw': wm.encoder.channels_last = wm.decoder.channels_last = False
    if v in ('fused', 'foreach'):
        opt = torch.optim.Adam(wm.parameters(), lr=wm.cfg.lr, eps=wm.cfg.eps, **{v: True})
    if v == 'compile':
        for name in ('encoder', 'decoder', 'reward_head', 'cost_head', 'cont_head', 'safety_head'):
            setattr(wm, name, torch.compile(getattr(wm, name)))
    precision = {'bf16': 'bf16', 'auto': 'auto'}.get(v, 'fp32')
    data = wm.preprocess(synthetic_batch(c['B'], c['L'], c['wm']['image_size'], seed=0))
    losses, walls, cpus = [], [], []
    for i in range(args.updates + 2):
        t, p = time.perf_counter(), time.process_time()
        m, _ = wm.update(data, opt, precision)
        if i >= 2: walls.append(time.perf_counter() - t); cpus.append(time.process_time() - p)
        losses.append(m['loss'])
    from vlsafe.nets import resolve_precision
    out = dict(config=args.config, variant=args.variant, threads=torch.get_num_threads(),
               precision=resolve_precision(precision, 'cpu'),
               wall_s=float(np.median(walls)), cpu_s=float(np.median(cpus)), walls=walls,
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, losses=losses,
               params_m=sum(p.numel() for p in wm.parameters()) / 1e6, loadavg=os.getloadavg())
    if args.breakdown: out['breakdown'] = breakdown(wm, data, opt)
    print('RESULT ' + json.dumps(out))

def breakdown(wm, data, opt, n=3):
    "Median wall/CPU seconds of each part of an update, forward + backward."
    import numpy as np, torch
    def T(f):
        w, c = [], []
        for _ in range(n + 1):
            t, p = time.perf_counter(), time.process_time(); f()
            w.append(time.perf_counter() - t); c.append(time.process_time() - p)
        return dict(wall=float(np.median(w[1:])), cpu=float(np.median(c[1:])))
    img = data['image']
    with torch.no_grad():
        emb = wm.encoder(img)
        post, prior = wm.rssm.observe(emb, data['action'], data['is_first'])
        feat = wm.feat(post)
    def enc(): wm.encoder(img).sum().backward()
    def dec(): ((wm.decoder(feat) - img) ** 2).sum().backward()
    def rssm():
        p, q = wm.rssm.observe(emb.requires_grad_(), data['action'], data['is_first'])
        dyn, rep = wm.rssm.kl_loss(p, q); (dyn.sum() + rep.sum() + wm.feat(p).sum()).backward()
    def heads():
        f = feat.detach().requires_grad_()
        (-wm.reward(f).log_prob(data['reward']).sum() - wm.cost(f).log_prob(data['cost']).sum()
         - wm.cont(f).log_prob(data['cont']).sum() - wm.safety(f).log_prob(data['p']).sum()).backward()
    def step(): opt.step()
    def clip(): torch.nn.utils.clip_grad_norm_(wm.parameters(), 1000.)
    res = {k: T(f) for k, f in dict(encoder=enc, decoder=dec, rssm=rssm, heads=heads, clip=clip, adam=step).items()}
    opt.zero_grad()
    return res

def curves(args):
    "Loss terms of every update of the `mini` model trained in fp32 and under bf16 autocast (same init, same batches)."
    import numpy as np, torch
    from vlsafe.config import WorldModelConfig
    from vlsafe.world_model import WorldModel, synthetic_batch
    torch.set_num_threads(args.threads)
    c = CONFIGS['mini']
    out = dict(config=c, updates=args.curves, threads=args.threads, **machine(), runs={})
    for precision in ('fp32', 'bf16'):
        torch.manual_seed(0)
        wm = WorldModel(WorldModelConfig(**c['wm']), 15); opt = wm.make_optimizer()
        rows, t0, cpu0 = [], time.perf_counter(), time.process_time()
        for i in range(args.curves):
            batch = synthetic_batch(c['B'], c['L'], c['wm']['image_size'], seed=i)
            m, _ = wm.update(batch, opt, precision)
            rows.append({k: v for k, v in m.items() if k.endswith('_loss') or k in ('loss', 'kl', 'grad_norm')})
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        out['runs'][precision] = dict(metrics={k: [r[k] for r in rows] for k in rows[0]},
                                      wall_s_per_update=wall / args.curves, cpu_s_per_update=cpu / args.curves)
        print(f"{precision}: {args.curves} updates, {wall / args.curves:.3f} s wall / {cpu / args.curves:.3f} s CPU "
              f"per update, last-50 mean loss {np.mean(out['runs'][precision]['metrics']['loss'][-50:]):.2f}", flush=True)
    if args.json:
        with open(args.json, 'w') as f: json.dump(out, f, indent=1)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--configs', default='paper,tiny')
    ap.add_argument('--variants', default='eager')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--updates', type=int, default=5)
    ap.add_argument('--breakdown', action='store_true')
    ap.add_argument('--json', default='')
    ap.add_argument('--curves', type=int, default=0, help='train mini in fp32 and bf16 for this many updates')
    ap.add_argument('--config', help=argparse.SUPPRESS); ap.add_argument('--variant', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.config: return child(args)
    env = dict(os.environ); env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    print(f"loadavg before: {os.getloadavg()}  threads={args.threads}  OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}  "
          f"cpus={os.cpu_count()}")
    print(f"machine: {machine()}", flush=True)
    if args.curves: return curves(args)
    results = []
    for cfg in args.configs.split(','):
        for var in args.variants.split(','):
            cmd = [sys.executable, __file__, '--config', cfg, '--variant', var, '--threads', str(args.threads),
                   '--updates', str(args.updates)] + (['--breakdown'] if args.breakdown else [])
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            line = [l for l in r.stdout.splitlines() if l.startswith('RESULT ')]
            if not line: print(r.stdout, r.stderr); continue
            res = json.loads(line[0][7:]); results.append(res)
            print(f"{cfg:5s} {var:10s} [{res['precision']}] update wall {res['wall_s']:.3f} s (median of {args.updates}; all "
                  f"{[round(w, 2) for w in res['walls']]})  cpu {res['cpu_s']:.3f} s  -> cpu/threads "
                  f"{res['cpu_s'] / res['threads']:.3f} s  peak RSS {res['peak_rss_mb']:.0f} MB  "
                  f"params {res['params_m']:.1f}M  loadavg {tuple(round(x, 2) for x in res['loadavg'])}")
            base = next((r for r in results if r['config'] == cfg and r['variant'] == 'eager'), None)
            if base is not None and var != 'eager':
                d = [abs(a - b) / abs(b) for a, b in zip(res['losses'], base['losses'])]
                print(f"      loss vs fp32 eager, relative difference per update: {[f'{x:.1e}' for x in d]}")
            if 'breakdown' in res:
                for k, v in res['breakdown'].items(): print(f"      {k:8s} wall {v['wall']:.3f} s  cpu {v['cpu']:.3f} s")
    if args.json:
        with open(args.json, 'w') as f: json.dump(results, f, indent=1)

if __name__ == '__main__':
    main()
