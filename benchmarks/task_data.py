"""The data bars of a profile, task by task: what each behaviour policy drives like at the profile's settings for the
task, what a dataset drawn with the task's policy mix holds, and whether that meets the bars.

    python benchmarks/task_data.py [--profile small] [--tasks left_turn right_turn left_turn:medium ...]
                                   [--policies expert late_braking ...] [--episodes 20] [--mixed 20]
                                   [--set env.max_steps=500 ...] [--out results/experts/small_tasks_v2.csv]

Each task (a task with an optional `:variant`) runs at `get_config(profile)` for it, task presets included: its
episode length, traffic and policy mix (`vlsafe.config.TASK_PRESETS`); `--set` overrides on top. Per policy,
episode k uses seed k for env and policy (as `benchmarks/expert_quality.py`). The mixed episodes are the
`--mixed` episodes of a collection of that size with the task's mix and data seed (`vlsafe.data.policy_assignment`
and `episode_seed`, the ε of `data.epsilon`), driven without drawing the BEV, which no policy looks at.

Writes `<out>` (per task and policy: collision-episode share, cost-step share, arrive and expert-success rates,
episode length), `<out>_episodes.csv` (every episode, the mixed ones with policy `mix:<name>`) and `<out>_bars.csv`
(per task: the mix, its shares expected from the per-policy rows, the same shares measured on the mixed episodes,
and each bar of `vlsafe.experts.data_bars`: met, waived). One process, one thread: the machine may be shared.
"""
import argparse, json, os, subprocess, time
import pandas as pd
from vlsafe.config import get_config, to_dict
from vlsafe.experts import POLICIES, policy_quality, episode_stats, data_bars

TASKS = ('left_turn', 'right_turn', 'left_turn:medium', 'right_turn:medium', 'navigation')
MIX_POLICIES = ('expert', 'late_braking', 'eps_random', 'distracted', 'aggressive')


def task_config(profile: str, task: str, sets: dict):
    name, _, variant = task.partition(':')
    return get_config(profile, {'env.task': name, 'env.variant': variant or 'simple', **sets})


def env_kw(cfg) -> dict:
    return {k: v for k, v in to_dict(cfg.env).items() if k not in ('task', 'variant')}


def mixed_episodes(task: str, cfg, n: int) -> pd.DataFrame:
    "The first `n` episodes of an `n`-episode collection of `task` at `cfg`, as `episode_stats` rows."
    from dataclasses import replace
    from vlsafe.data import policy_assignment, episode_seed
    d = replace(cfg.data, episodes=n)
    rows = []
    for i, name in enumerate(policy_assignment(d)):
        kw = {'epsilon': d.epsilon} if name == 'eps_random' else {}
        r = episode_stats(task, name, episode_seed(d.seed, i), render=False, policy_kw=kw, **env_kw(cfg))
        rows.append(dict(r, policy=f'mix:{name}', episode=i))
    return pd.DataFrame(rows)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--profile', default='small')
    p.add_argument('--tasks', nargs='*', default=list(TASKS))
    p.add_argument('--policies', nargs='*', default=list(MIX_POLICIES), choices=POLICIES)
    p.add_argument('--episodes', type=int, default=20)
    p.add_argument('--mixed', type=int, default=20, help='mixed episodes per task (0: none)')
    p.add_argument('--set', nargs='*', default=[], help='config overrides key=value on every task')
    p.add_argument('--out', default='')
    a = p.parse_args()
    sets = dict(s.split('=', 1) for s in a.set)
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(['git', 'status', '--porcelain', '--', 'vlsafe'], capture_output=True, text=True).stdout.strip())
    print(f'load average before: {os.getloadavg()} (cpus: {os.cpu_count()}, shared machine); code {commit}'
          + (' with uncommitted changes' if dirty else ''), flush=True)
    t0 = time.time()
    tabs, eps, bars = [], [], []
    for task in a.tasks:
        cfg = task_config(a.profile, task, sets)
        tab, df = policy_quality((task,), a.policies, a.episodes, workers=1, progress=False, render=False, **env_kw(cfg))
        tab = tab.reset_index().assign(max_steps=cfg.env.max_steps)
        tabs.append(tab); eps.append(df)
        mix = cfg.data.policy_mix
        row = dict(task=task, max_steps=cfg.env.max_steps, mix=json.dumps(mix, sort_keys=True))
        if set(mix) <= set(tab.policy):
            b = data_bars(tab, mix, task)
            from vlsafe.experts import mixture_shares
            row.update({f'expected_{k}': round(v, 4) for k, v in mixture_shares(tab, mix).items()})
            row['expert_success'] = round(b['expert_success']['value'], 4)
            row.update({f'{k}_met': v['met'] for k, v in b.items()})
            row.update({f'{k}_waived': v['waived'] for k, v in b.items()})
            row['passed'] = all(v['met'] or v['waived'] for v in b.values())
        if a.mixed:
            m = mixed_episodes(task, cfg, a.mixed); eps.append(m)
            row.update(mixed_episodes=len(m), measured_collision=round(m.collision.mean(), 4),
                       measured_cost_steps=round(m.cost_steps.sum() / m.steps.sum(), 4),
                       measured_length=round(m.steps.mean(), 1),
                       measured_policies=json.dumps(m.policy.str[4:].value_counts().sort_index().to_dict()))
        bars.append(row)
        print(f'{task}: {time.time() - t0:.0f} s', flush=True)
    tab, bars = pd.concat(tabs, ignore_index=True).assign(commit=commit), pd.DataFrame(bars).assign(commit=commit)
    pd.set_option('display.width', 250); pd.set_option('display.max_columns', 40)
    print(tab.to_string()); print(bars.T.to_string())
    df = pd.concat(eps, ignore_index=True)
    print(f'{len(df)} episodes, {df.steps.sum()} steps in {time.time() - t0:.0f} s; load average after: {os.getloadavg()}')
    if a.out:
        os.makedirs(os.path.dirname(a.out) or '.', exist_ok=True)
        tab.to_csv(a.out, index=False)
        df.to_csv(a.out.replace('.csv', '_episodes.csv'), index=False)
        bars.to_csv(a.out.replace('.csv', '_bars.csv'), index=False)


if __name__ == '__main__':
    main()
