"""The fp32 floor of one update on this CPU: FLOPs counted by torch, divided by the best matrix-multiply rate measured here.

No implementation of an update can run faster than its floating-point work allows. This script counts that work for
one world-model update and one agent update (imagination, λ-returns, both critics, π_b, actor) with
`torch.utils.flop_counter.FlopCounterMode` (matrix multiplies and convolutions, forward and backward; the
element-wise work is left out, so the floor is optimistic), measures the best fp32 matrix-multiply rate this machine
gives with the same thread count (square GEMMs, the most favourable shape there is), and divides the two:

    floor_s = counted FLOPs / best GEMM FLOP/s

It also prints the CPU's vector extensions, because the issue's targets assumed AVX-512 BF16: where the CPU has no
native bf16, autocast to bf16 is emulated and slower than fp32 (measured in `wm_speed.py --variants bf16`).

    python benchmarks/speed_floor.py                  # paper and tiny, 2 threads
    python benchmarks/speed_floor.py --threads 1
"""
from __future__ import annotations
import argparse, json, os, sys, time
from pathlib import Path
import torch

# The two fixed benchmark configurations and targets: one definition, in agent_speed.py beside this file.
from agent_speed import CONFIGS

def cpu_flags() -> dict:
    "Model name and the vector extensions that decide fp32/bf16 throughput."
    flags, model = set(), ''
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('flags') and not flags: flags = set(line.split(':', 1)[1].split())
            if line.startswith('model name') and not model: model = line.split(':', 1)[1].strip()
    except OSError: pass
    keys = ('avx2', 'fma', 'avx512f', 'avx512_bf16', 'amx_bf16', 'amx_tile', 'avx_vnni')
    return dict(model=model, **{k: k in flags for k in keys})

def gemm_rate(threads: int, sizes=(1024, 2048, 3072), repeats: int = 5) -> dict:
    "Best fp32 GFLOP/s of square matrix multiplies over `sizes` (best of `repeats` each)."
    torch.set_num_threads(threads)
    out = {}
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        best = min(_time(lambda: a @ b) for _ in range(repeats))
        out[n] = 2 * n ** 3 / best / 1e9
    return out

def _time(fn) -> float:
    t = time.perf_counter(); fn(); return time.perf_counter() - t

def count(name: str, objective: str, horizon: int) -> dict:
    "GFLOP of one world-model update and one agent update at configuration `name`."
    from torch.utils.flop_counter import FlopCounterMode
    from vlsafe.config import WorldModelConfig, AgentConfig
    from vlsafe.world_model import WorldModel, synthetic_batch
    from vlsafe.agent import Agent
    w = WorldModelConfig(**CONFIGS[name]['wm'])
    torch.manual_seed(0)
    wm = WorldModel(w, 15)
    opt = wm.make_optimizer()
    agent = Agent.for_world_model(AgentConfig(objective=objective, horizon=horizon), wm, wm.spec)
    data = wm.preprocess(synthetic_batch(B=w.batch_size, L=w.batch_length, size=64, seed=0))
    wm.requires_grad_(True); wm.train()
    with FlopCounterMode(display=False) as fc:
        _, post = wm.update(data, opt)
    wm_ops = {str(k).replace('aten.', ''): v / 1e9 for k, v in fc.get_flop_counts()['Global'].items()}
    wm.requires_grad_(False)
    with FlopCounterMode(display=False) as fc:
        agent.update(wm, data, post)
    ag_ops = {str(k).replace('aten.', ''): v / 1e9 for k, v in fc.get_flop_counts()['Global'].items()}
    return dict(wm_gflop=sum(wm_ops.values()), agent_gflop=sum(ag_ops.values()),
                wm_ops={k: round(v, 1) for k, v in wm_ops.items()}, agent_ops={k: round(v, 1) for k, v in ag_ops.items()})

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--configs', default='paper,tiny')
    ap.add_argument('--objective', default='vlsafe')
    ap.add_argument('--horizon', type=int, default=15)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--out', default='results/speed_floor/speed_floor.json')
    a = ap.parse_args(argv)
    from vlsafe.nets import resolve_precision
    cpu = dict(cpu_flags(), auto_precision=resolve_precision('auto', 'cpu'))
    print(f"# speed_floor threads={a.threads} torch={torch.__version__} loadavg={os.getloadavg()} precision=fp32 "
          f"(the floor is fp32 work over the fp32 GEMM rate; run.precision=auto picks {cpu['auto_precision']} on this "
          f"CPU)\n# cpu: {cpu}", flush=True)
    rates = gemm_rate(a.threads)
    peak = max(rates.values())
    print(f"# best fp32 GEMM rate with {a.threads} threads: " + ', '.join(f'{n}²: {r:.0f}' for n, r in rates.items())
          + f' GFLOP/s -> {peak:.0f}', flush=True)
    rows = []
    for name in a.configs.split(','):
        c = count(name, a.objective, a.horizon)
        full = c['wm_gflop'] + c['agent_gflop']
        row = dict(config=name, objective=a.objective, horizon=a.horizon, **c, full_gflop=full,
                   wm_floor_s=c['wm_gflop'] / peak, full_floor_s=full / peak,
                   target_wm_s=CONFIGS[name]['target_wm_s'], target_full_s=CONFIGS[name]['target_s'],
                   gflops_needed_wm=c['wm_gflop'] / CONFIGS[name]['target_wm_s'],
                   gflops_needed_full=full / CONFIGS[name]['target_s'])
        rows.append(row); print(row, flush=True)
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(argv=sys.argv, threads=a.threads, cpu=cpu, gemm_gflops=rates, peak_gflops=peak,
                                   loadavg=os.getloadavg(), rows=rows), indent=1))
    print(f'\n| config | WM update GFLOP | agent update GFLOP | WM floor (s) | WM target (s) | full floor (s) | '
          f'full target (s) | GFLOP/s the full target needs |')
    print('|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['config']} | {r['wm_gflop']:.0f} | {r['agent_gflop']:.0f} | {r['wm_floor_s']:.2f} | ≤ {r['target_wm_s']} | "
              f"{r['full_floor_s']:.2f} | ≤ {r['target_full_s']} | {r['gflops_needed_full']:.0f} (best GEMM here: {peak:.0f}) |")

if __name__ == '__main__':
    main()
