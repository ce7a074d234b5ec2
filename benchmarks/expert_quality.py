"""Arrive rate, collision rate, off-route/timeout rates, out-of-lane share, return and cost per task and policy.

    python benchmarks/expert_quality.py [--episodes 50] [--policies expert ...] [--tasks four_lane left_turn:hard ...]
                                        [--workers 2] [--image-size 64] [--out results/expert_quality.csv]

A task may carry a variant after a colon (left_turn:hard). Episode k uses seed k for env and policy.
The machine may be shared: the load average is printed beside the figures.
"""
import argparse, os, time
import pandas as pd
from vlsafe.experts import POLICIES, QUALITY_TASKS, policy_quality

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--episodes', type=int, default=50)
    p.add_argument('--policies', nargs='*', default=['expert'], choices=POLICIES)
    p.add_argument('--tasks', nargs='*', default=list(QUALITY_TASKS))
    p.add_argument('--workers', type=int, default=os.cpu_count())
    p.add_argument('--image-size', type=int, default=64)
    p.add_argument('--render', action='store_true', help='draw the BEV too (slower; the policies do not use it)')
    p.add_argument('--vehicles', type=int, default=None)
    p.add_argument('--max-steps', type=int, default=None)
    p.add_argument('--out', default='')
    a = p.parse_args()
    kw = dict(image_size=a.image_size, render=a.render)
    if a.vehicles is not None: kw['vehicles_count'] = a.vehicles
    if a.max_steps is not None: kw['max_steps'] = a.max_steps
    print(f'load average before: {os.getloadavg()} (cpus: {os.cpu_count()}, shared machine)', flush=True)
    t0 = time.time()
    tab, df = policy_quality(a.tasks, a.policies, a.episodes, a.workers, **kw)
    pd.set_option('display.width', 250)
    print(tab.to_string())
    print(f'{len(df)} episodes, {df.steps.sum()} steps in {time.time() - t0:.0f} s; load average after: {os.getloadavg()}')
    if a.out:
        os.makedirs(os.path.dirname(a.out) or '.', exist_ok=True)
        tab.to_csv(a.out)
        df.to_csv(a.out.replace('.csv', '_episodes.csv'), index=False)
