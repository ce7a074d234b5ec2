"""Cost of evaluation: seconds per evaluation episode (and per step) at a profile, for the reference rows and for a
baseline network (an untrained BC net of the profile's size: acting costs the same as a trained one), through
`vlsafe.evaluate.evaluate_policy` on the profile's scenarios.

    python benchmarks/eval_speed.py                          # small profile, 3 scenarios per row
    python benchmarks/eval_speed.py --profile small --episodes 5 --rows noop expert bc

An episode's cost is its length times the cost of a step (env + policy), so a policy that crashes early is cheap and
one that drives the whole `env.max_steps` is the expensive case; both are printed. Costs are CPU seconds of this
process (one thread, `eval.workers=1`), which a shared machine's load leaves nearly unchanged; wall seconds are
printed beside them with os.getloadavg() and the CPU flags.
"""
from __future__ import annotations
import argparse, os, time


def cpu_flags() -> str:
    flags = set(open('/proc/cpuinfo').read().split()) if os.path.exists('/proc/cpuinfo') else set()
    return ' '.join(f for f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16') if f in flags) or 'none of avx2/avx512/amx'


def bc_policy(cfg):
    "A BaselinePolicy around an untrained BC actor of the profile's size, sampling as the evaluation makes it."
    import torch
    from vlsafe.baselines import BaselinePolicy, ImageNet, policy_action
    from vlsafe.actions import DISCRETE
    net = ImageNet(cfg.wm.image_size, cfg.baseline, DISCRETE['n']).eval()
    act = lambda x, sample: int(policy_action(net(torch.from_numpy(x[None]).float().div_(255)), DISCRETE, sample)[0])
    return BaselinePolicy('bc', cfg.wm.image_size, act)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--profile', default='small')
    ap.add_argument('--task', default='four_lane')
    ap.add_argument('--episodes', type=int, default=3)
    ap.add_argument('--rows', nargs='+', default=['noop', 'expert', 'behaviour', 'bc'])
    a = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    from vlsafe.config import get_config
    from vlsafe.evaluate import evaluate_policy, evaluate_reference, REFERENCE_METHODS
    cfg = get_config(a.profile, {'env.task': a.task, 'eval.gif': False, 'eval.workers': 1})   # one process: CPU time is ours
    print(f"evaluation speed, profile {a.profile}, task {a.task}, env.max_steps {cfg.env.max_steps}, "
          f"image {cfg.env.image_size} px, eval.episodes {cfg.eval.episodes} | CPU flags: {cpu_flags()} | "
          f"torch threads 1")
    for row in a.rows:
        t0, c0 = time.perf_counter(), time.process_time()
        if row in REFERENCE_METHODS: eps, _ = evaluate_reference(cfg, row, a.episodes, progress=False)
        elif row == 'bc': eps, _ = evaluate_policy(bc_policy(cfg), cfg, a.episodes, progress=False)
        else: raise SystemExit(f"unknown row '{row}': use {list(REFERENCE_METHODS) + ['bc']}")
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        steps = int(eps['steps'].sum())
        per_step = cpu / steps       # CPU seconds: what a step costs on one free core, whatever the load
        print(f"  {row:<10} {a.episodes} eps, {steps:5d} steps: {dt / a.episodes:6.2f} s/episode wall, "
              f"{1e3 * per_step:5.1f} ms CPU/step -> a full-length episode {per_step * cfg.env.max_steps:5.1f} CPU s, "
              f"a run of {cfg.eval.episodes} full-length episodes {per_step * cfg.env.max_steps * cfg.eval.episodes / 60:5.1f} "
              f"CPU min | load {tuple(round(x, 1) for x in os.getloadavg())}")


if __name__ == '__main__':
    main()
