"""Work and CPU time of one agent update and one world-model update, against this thread's own matmul rate.

    python benchmarks/efficiency.py                       # small and paper, 1 thread
    python benchmarks/efficiency.py --configs small --repeats 7
    python benchmarks/efficiency.py --configs small --out results/efficiency/base.json   # e.g. on older code

For each configuration (the `small` and `paper` profiles' sizes, 64-pixel synthetic sampler batches resized to the
profile's frames, Discrete(15), fp32, objective vlsafe, horizon 15, K = 4 behaviour samples) it measures:
  - FLOPs of one update (torch's FlopCounterMode: matrix multiplies and convolutions, forward and backward);
  - process CPU seconds of one update, the median of `--repeats` after one warm-up (paper: `--paper-repeats`);
  - the same thread's sgemm rate (2048×512 @ 512×512, median of 20), measured just before and just after each
    update's timing (another job's load moves it: the ratio uses the rate around that update's own timing);
  - the ratio t / (reference FLOPs / sgemm rate), with the reference FLOPs of issue 25 at `small`
    (36.25 GFLOP agent, 14.94 GFLOP world model; at `paper`, the counts of commit 0a3ff2b by this script,
    1132.20 and 427.01): a run that does less work for the same result gains too.
Targets at `small`, 1 thread: agent ratio ≤ 0.86, world-model ratio ≤ 1.5.

    python benchmarks/efficiency.py --compare before.json after.json    # the two runs' table side by side

Process CPU time is robust to other jobs on the shared cores; one thread keeps OpenMP spin-waiting out of it.
The script only uses the public update API, so it also runs against older code (set PYTHONPATH to its checkout).
"""
from __future__ import annotations
import argparse, json, os, platform, statistics, sys, time
from pathlib import Path
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_speed import _profile_spec, timed          # the profile's world-model sizes; CPU-time measurement

REF_GFLOP = dict(small=dict(agent=36.25, wm=14.94),   # one update (issue 25)
                 paper=dict(agent=1132.20, wm=427.01))  # counted on commit 0a3ff2b
TARGET_RATIO = dict(agent=0.86, wm=1.5)               # at `small`, 1 thread
MATMUL_FLAGS = ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16')


def sgemm_rate(repeats: int = 20) -> float:
    "GFLOP/s of a 2048×512 @ 512×512 fp32 matmul on this thread (median CPU time)."
    a, b = torch.randn(2048, 512), torch.randn(512, 512)
    for _ in range(3): a @ b
    _, cpu = timed(lambda: a @ b, repeats)
    return 2 * 2048 * 512 * 512 / statistics.median(cpu) / 1e9


def flops(fn) -> float:
    "GFLOP of one call of `fn`."
    with FlopCounterMode(display=False) as c: fn()
    return c.get_total_flops() / 1e9


def build(profile: str, objective: str = 'vlsafe', horizon: int = 15, behaviour_samples: int = 4):
    "A world model of `profile`'s sizes, its optimiser, an agent, and the two updates as closures."
    from vlsafe.config import WorldModelConfig, AgentConfig, get_config
    from vlsafe.world_model import WorldModel, synthetic_batch
    from vlsafe.agent import Agent, prepare
    spec, acfg = _profile_spec(profile)['wm'], get_config(profile).agent
    bs, bl = spec.pop('batch_size'), spec.pop('batch_length')
    torch.manual_seed(0)
    wm = WorldModel(WorldModelConfig(**spec), 15)
    opt = wm.make_optimizer()
    agent = Agent.for_world_model(AgentConfig(objective=objective, horizon=horizon, behaviour_samples=behaviour_samples,
                                              actor_lr=acfg.actor_lr, critic_lr=acfg.critic_lr, bc_lr=acfg.bc_lr),
                                  wm, wm.spec)
    wm_data = wm.preprocess(synthetic_batch(B=bs, L=bl, size=64, seed=0))
    a_data, post = prepare(wm, synthetic_batch(B=acfg.batch_size, L=acfg.batch_length, size=64, seed=1))

    def wm_update():
        wm.requires_grad_(True); wm.train()
        wm.update(wm_data, opt)
    def agent_update():
        wm.requires_grad_(False); wm.eval()
        agent.update(wm, a_data, post)
    shapes = dict(wm_batch=[bs, bl], agent_batch=[acfg.batch_size, acfg.batch_length], horizon=horizon,
                  behaviour_samples=behaviour_samples, objective=objective,
                  **{k: spec[k] for k in ('image_size', 'deter', 'units', 'stoch', 'classes', 'cnn_depth', 'layers')})
    return dict(agent=agent_update, wm=wm_update), shapes


def bench(profile: str, repeats: int) -> dict:
    fns, shapes = build(profile)
    row = dict(config=profile, **shapes)
    for name, fn in fns.items():
        fn()                                           # warm-up: allocator, first-call costs
        row[f'{name}_gflop'] = round(flops(fn), 3)
        before = sgemm_rate()
        _, cpu = timed(fn, repeats)
        row[f'{name}_sgemm_gflop_per_s'] = [round(before, 2), round(sgemm_rate(), 2)]
        row[f'{name}_cpu_s'] = round(statistics.median(cpu), 4)
        row[f'{name}_cpu_all'] = [round(c, 4) for c in cpu]
    return row


def host_tag() -> str:
    from vlsafe.nets import cpu_flags
    return '_'.join(f for f in MATMUL_FLAGS if f in cpu_flags()) or 'noflags'


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--configs', default='small,paper')
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--paper-repeats', type=int, default=2)
    ap.add_argument('--out', default='', help='JSON path (default results/efficiency/efficiency_<cpu flags>.json)')
    ap.add_argument('--label', default='', help='a name for the code measured (e.g. a commit), kept in the JSON')
    ap.add_argument('--compare', nargs='+', default=[], help='print the table of these JSON results, and nothing else')
    a = ap.parse_args(argv)
    if a.compare: return table([json.loads(Path(p).read_text()) for p in a.compare])
    torch.set_num_threads(1)
    from vlsafe.nets import cpu_flags
    import vlsafe
    flags = sorted(set(MATMUL_FLAGS) & cpu_flags())
    head = dict(torch=torch.__version__, python=platform.python_version(), cpu_flags=flags, threads=1,
                vlsafe=str(Path(vlsafe.__file__).parent), label=a.label,
                omp_wait_policy=os.environ.get('OMP_WAIT_POLICY', ''), loadavg_before=os.getloadavg())
    print(f"# efficiency torch={head['torch']} cpu_flags={flags} threads=1 vlsafe={head['vlsafe']} "
          f"loadavg={tuple(round(x, 2) for x in os.getloadavg())}", flush=True)
    rate0 = sgemm_rate()
    print(f'# sgemm 2048x512x512: {rate0:.1f} GFLOP/s', flush=True)
    rows = []
    for name in a.configs.split(','):
        rows.append(bench(name, a.paper_repeats if name == 'paper' else a.repeats)); print(rows[-1], flush=True)
    rate1 = sgemm_rate()
    for r in rows: score(r, (rate0 + rate1) / 2)         # the thread's rate around the updates
    out = Path(a.out or f'results/efficiency/efficiency_{host_tag()}.json')
    out.parent.mkdir(parents=True, exist_ok=True)
    res = dict(**head, argv=sys.argv, sgemm_gflop_per_s=[round(rate0, 2), round(rate1, 2)], ref_gflop=REF_GFLOP,
               target_ratio=TARGET_RATIO, rows=rows, loadavg_after=os.getloadavg())
    tmp = out.with_name(out.name + '.tmp')
    tmp.write_text(json.dumps(res, indent=1)); os.replace(tmp, out)
    print(f'\nsgemm 2048x512x512, 1 thread: {rate0:.1f} before, {rate1:.1f} after the updates (GFLOP/s)')
    table([res])
    print(f'wrote {out}')


def score(r: dict, run_rate: float):
    """GFLOP/s, the ratio to the reference work at this thread's sgemm rate around the update's timing (`run_rate`,
    the run's, for results without it), and PASS/MISS at `small`."""
    for k in ('agent', 'wm'):
        rate = sum(r[f'{k}_sgemm_gflop_per_s']) / 2 if f'{k}_sgemm_gflop_per_s' in r else run_rate
        r[f'{k}_gflop_per_s'] = round(r[f'{k}_gflop'] / r[f'{k}_cpu_s'], 2)
        ref = REF_GFLOP.get(r['config'], {}).get(k)
        r[f'{k}_ratio'] = round(r[f'{k}_cpu_s'] / (ref / rate), 3) if ref else float('nan')
        if r['config'] == 'small': r[f'{k}_pass'] = r[f'{k}_ratio'] <= TARGET_RATIO[k]


def table(runs: list[dict]):
    "One markdown row per (config, update, run); ratios recomputed with this script's references."
    print('| config | update | code | sgemm GFLOP/s | GFLOP | CPU s | GFLOP/s | ratio t/(ref/sgemm) | target |')
    print('|---|---|---|---|---|---|---|---|---|')
    for name in dict.fromkeys(r['config'] for run in runs for r in run['rows']):
        for k, label in (('agent', 'agent'), ('wm', 'world model')):
            for run in runs:
                rate = sum(run['sgemm_gflop_per_s']) / 2
                for r in (r for r in run['rows'] if r['config'] == name):
                    score(r, rate)
                    verdict = (('PASS' if r[f'{k}_pass'] else 'MISS') + f' (≤ {TARGET_RATIO[k]})') if f'{k}_pass' in r else '–'
                    rate = sum(r.get(f'{k}_sgemm_gflop_per_s', [rate] * 2)) / 2
                    print(f"| {name} | {label} | {run.get('label') or run['vlsafe']} | {rate:.1f} | {r[f'{k}_gflop']:.2f} | "
                          f"{r[f'{k}_cpu_s']:.3f} | {r[f'{k}_gflop_per_s']:.1f} | {r[f'{k}_ratio']:.3f} | {verdict} |")


if __name__ == '__main__':
    main()
