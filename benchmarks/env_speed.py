"""Environment steps per second per task, BEV rendering included (one process, one core).

    python benchmarks/env_speed.py [--steps 1000] [--image-size 128] [--vehicles 20] [--tasks four_lane ...]

Random actions would end episodes within a few steps (off route), so the ego drives with the expert's
controller logic disabled: a fixed 'keep speed, straight' action for straight tasks is not representative
either; we use the expert policy when vlsafe.experts is importable and time only `env.step` (policy time is
reported separately). The machine may be shared: the load average is printed beside the figures.
"""
import argparse, os, time
import numpy as np
from vlsafe.config import TASKS
from vlsafe.envs import make_task

def bench(task, steps, image_size, vehicles, seed=0):
    env = make_task(task, image_size=image_size, vehicles_count=vehicles, variant='medium')
    try:
        from vlsafe.experts import make_policy
        pol = make_policy('expert', env, seed=seed)
    except ImportError:
        pol = None
    obs, info = env.reset(seed=seed)
    if pol: pol.reset(seed=seed)
    t_env = t_pol = 0.0; n = 0; ep = 0; t_reset = 0.0
    while n < steps:
        t0 = time.perf_counter()
        a = pol.act(obs, info) if pol else 7
        t1 = time.perf_counter()
        obs, r, term, trunc, info = env.step(a)
        t2 = time.perf_counter()
        t_pol += t1 - t0; t_env += t2 - t1; n += 1
        if term or trunc:
            t0 = time.perf_counter(); ep += 1
            obs, info = env.reset(seed=seed + ep)
            if pol: pol.reset(seed=seed + ep)
            t_reset += time.perf_counter() - t0
    return n / t_env, n / (t_env + t_pol + t_reset), ep

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--steps', type=int, default=1000)
    p.add_argument('--image-size', type=int, default=128)
    p.add_argument('--vehicles', type=int, default=20)
    p.add_argument('--tasks', nargs='*', default=list(TASKS))
    a = p.parse_args()
    print(f'load average before: {os.getloadavg()}  (cpus: {os.cpu_count()}, shared machine)')
    print(f'image {a.image_size}px, vehicles_count {a.vehicles}, {a.steps} steps per task')
    print(f"{'task':<12} {'env steps/s':>12} {'with expert+resets':>20} {'episodes':>9}")
    for t in a.tasks:
        s_env, s_all, ep = bench(t, a.steps, a.image_size, a.vehicles)
        print(f'{t:<12} {s_env:>12.0f} {s_all:>20.0f} {ep:>9d}', flush=True)
    print(f'load average after: {os.getloadavg()}')
