"""Seconds per world-model update and peak memory at the two fixed benchmark configurations.

    python benchmarks/wm_speed.py                       # both configs, fp32 eager, 2 threads
    python benchmarks/wm_speed.py --configs tiny --updates 7 --breakdown
    python benchmarks/wm_speed.py --variants eager,nchw,foreach,fused,bf16,compile   # losses compared with eager

Variants: eager (fp32, channels-last convs, Adam's default per-tensor loop), nchw (convs in NCHW), foreach / fused
(Adam implementations), bf16 (autocast to bfloat16), compile (torch.compile of encoder, decoder and heads; the
first two warm-up updates include compilation).

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
}

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
    ctx = (lambda: torch.autocast('cpu', dtype=torch.bfloat16)) if v == 'bf16' else contextlib.nullcontext
    data = wm.preprocess(synthetic_batch(c['B'], c['L'], 64, seed=0))
    losses, walls, cpus = [], [], []
    for i in range(args.updates + 2):
        t, p = time.perf_counter(), time.process_time()
        with ctx(): m, _ = wm.update(data, opt)
        if i >= 2: walls.append(time.perf_counter() - t); cpus.append(time.process_time() - p)
        losses.append(m['loss'])
    out = dict(config=args.config, variant=args.variant, threads=torch.get_num_threads(),
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

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--configs', default='paper,tiny')
    ap.add_argument('--variants', default='eager')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--updates', type=int, default=5)
    ap.add_argument('--breakdown', action='store_true')
    ap.add_argument('--json', default='')
    ap.add_argument('--config', help=argparse.SUPPRESS); ap.add_argument('--variant', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.config: return child(args)
    env = dict(os.environ); env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    print(f"loadavg before: {os.getloadavg()}  threads={args.threads}  OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}  "
          f"cpus={os.cpu_count()}")
    results = []
    for cfg in args.configs.split(','):
        for var in args.variants.split(','):
            cmd = [sys.executable, __file__, '--config', cfg, '--variant', var, '--threads', str(args.threads),
                   '--updates', str(args.updates)] + (['--breakdown'] if args.breakdown else [])
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            line = [l for l in r.stdout.splitlines() if l.startswith('RESULT ')]
            if not line: print(r.stdout, r.stderr); continue
            res = json.loads(line[0][7:]); results.append(res)
            print(f"{cfg:5s} {var:10s} update wall {res['wall_s']:.3f} s (median of {args.updates}; all "
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
