"""Seconds per full update — world model + imagination + both critics + actor (horizon 15) — at the issue-6 configs.

Two fixed configurations (64×64×3 input, Discrete(15) actions, fp32, 2 threads):
  - paper: batch 16 × length 64, deter 512, units 512, 32×32 stochastic, CNN depth 32  (target: full ≤ 5 s)
  - tiny:  batch 16 × length 32, deter 256, units 256, 32×32 stochastic, CNN depth 16  (target: full ≤ 0.8 s)
    (the issue leaves tiny's stochastic size unsaid; 32×32 as in the paper config and in wm_speed.py — figures
    before this change used 16×16)
For each it times, on the same sampler-format synthetic batch: the world-model update alone (`WorldModel.update`),
the agent update alone (`Agent.update`: imagination, λ-returns, both critics, π_b, actor), and the two in sequence
(one full training step), plus the imagination alone. Each figure is the median of `--repeats` runs after one
warm-up. The machine may be shared: the load average is printed beside the figures, and the process CPU time too
(with `--threads 1` it is a load-robust measure of the work; with 2 threads under oversubscription it also counts
OpenMP spin-waiting).

    python benchmarks/agent_speed.py                       # both configs, objective vlsafe
    python benchmarks/agent_speed.py --configs tiny --objective dreamerv3 --repeats 5
    python benchmarks/agent_speed.py --configs tiny --objective vlsafe,fosp --behaviour-samples 1,4 --threads 1
"""
from __future__ import annotations
import argparse, json, os, resource, statistics, sys, time
from pathlib import Path
import torch

CONFIGS = {
    'paper': dict(wm=dict(image_size=64, deter=512, units=512, stoch=32, classes=32, cnn_depth=32, layers=2,
                          batch_size=16, batch_length=64), target_s=5.0, target_wm_s=2.5),
    'tiny': dict(wm=dict(image_size=64, deter=256, units=256, stoch=32, classes=32, cnn_depth=16, layers=2,
                         batch_size=16, batch_length=32), target_s=0.8, target_wm_s=0.4),
}

def _profile_spec(profile: str) -> dict:
    "The world model of a profile (its sizes and batch), with no speed target."
    from vlsafe.config import get_config
    w = get_config(profile).wm
    keys = ('image_size', 'deter', 'units', 'stoch', 'classes', 'cnn_depth', 'layers', 'batch_size', 'batch_length')
    return dict(wm={k: getattr(w, k) for k in keys}, target_s=float('nan'), target_wm_s=float('nan'))

def timed(fn, repeats: int) -> tuple[list[float], list[float]]:
    "Wall-clock and process CPU seconds of `repeats` calls."
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time(); fn()
        wall.append(time.perf_counter() - t0); cpu.append(time.process_time() - c0)
    return wall, cpu

def cpu_flags() -> list[str]:
    "The matrix-relevant CPU flags (avx2, avx512f, avx512_bf16, amx_bf16) of this machine."
    try: flags = set(Path('/proc/cpuinfo').read_text().split())
    except OSError: return []
    return sorted(flags & {'avx2', 'avx512f', 'avx512_bf16', 'amx_bf16'})

def bench(name: str, objective: str, repeats: int, horizon: int, behaviour_samples: int = 1) -> dict:
    from vlsafe.config import WorldModelConfig, AgentConfig
    from vlsafe.world_model import WorldModel, synthetic_batch
    from vlsafe.agent import Agent, imagine, flatten_states
    spec = CONFIGS[name] if name in CONFIGS else _profile_spec(name)   # e.g. --configs small: the profile's sizes
    wcfg = WorldModelConfig(**spec['wm'])
    torch.manual_seed(0)
    wm = WorldModel(wcfg, 15)
    opt = wm.make_optimizer()
    agent = Agent.for_world_model(AgentConfig(objective=objective, horizon=horizon, behaviour_samples=behaviour_samples),
                                  wm, wm.spec)
    batch = synthetic_batch(B=wcfg.batch_size, L=wcfg.batch_length, size=64, seed=0)
    data = wm.preprocess(batch)
    state = {}

    def wm_update():
        wm.requires_grad_(True); wm.train()
        _, state['post'] = wm.update(data, opt)
    def agent_update():
        wm.requires_grad_(False)
        agent.update(wm, data, state['post'])
    def full_update():
        wm_update(); agent_update()
    def imagination():
        wm.requires_grad_(False)
        imagine(wm, agent.actor, flatten_states(state['post']), horizon)

    full_update()                                       # warm-up (allocator, first-call costs) and a first `post`
    row = dict(config=name, objective=objective, behaviour_samples=behaviour_samples, horizon=horizon,
               threads=torch.get_num_threads(), cpu_flags=cpu_flags(),
               loadavg_before=[round(x, 2) for x in os.getloadavg()])
    for key, fn in [('wm_update_s', wm_update), ('agent_update_s', agent_update), ('imagine_s', imagination),
                    ('full_update_s', full_update)]:
        ts, cs = timed(fn, repeats)
        row[key] = round(statistics.median(ts), 3); row[key.replace('_s', '_min_s')] = round(min(ts), 3)
        row[key.replace('_s', '_cpu_s')] = round(statistics.median(cs), 3)
    row['target_full_s'] = spec['target_s']
    row['loadavg_after'] = [round(x, 2) for x in os.getloadavg()]
    row['peak_rss_gib'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return row

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--configs', default='paper,tiny')
    ap.add_argument('--objective', default='vlsafe', help='one objective, or several separated by commas')
    ap.add_argument('--behaviour-samples', default='', help="agent.behaviour_samples, or several separated by commas "
                                                           "(default: AgentConfig's)")
    ap.add_argument('--horizon', type=int, default=15)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--out', default='results/agent_speed/agent_speed.json')
    a = ap.parse_args(argv)
    from vlsafe.config import AgentConfig
    a.behaviour_samples = a.behaviour_samples or str(AgentConfig().behaviour_samples)
    torch.set_num_threads(a.threads)
    print(f'# agent_speed threads={a.threads} cpus={os.cpu_count()} torch={torch.__version__} '
          f'loadavg(1,5,15)={os.getloadavg()} cpu_flags={cpu_flags()}  (2-core machine shared with other jobs)', flush=True)
    rows, out = [], Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in a.configs.split(','):
        for objective in a.objective.split(','):
            for k in a.behaviour_samples.split(','):
                row = bench(name, objective, a.repeats, a.horizon, int(k)); rows.append(row); print(row, flush=True)
                tmp = out.with_suffix('.tmp')      # after every row: a run cut short keeps what it measured
                tmp.write_text(json.dumps(dict(argv=sys.argv, rows=rows), indent=1)); os.replace(tmp, out)
    print('\n| config | objective | K | threads | WM update (s) | agent update (s) | of which imagination (s) | '
          'full update (s) | full update CPU (s) | target (s) | load avg (1 min) |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['config']} | {r['objective']} | {r['behaviour_samples']} | {r['threads']} | {r['wm_update_s']:.3f} | {r['agent_update_s']:.3f} | "
              f"{r['imagine_s']:.3f} | {r['full_update_s']:.3f} | {r['full_update_cpu_s']:.3f} | ≤ {r['target_full_s']} | "
              f"{r['loadavg_after'][0]} |")

if __name__ == '__main__':
    main()
