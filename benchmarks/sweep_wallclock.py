"""Wall-clock time of the `small` Four Lane Table I sweep from an empty store.

Runs `vlsafe reproduce --experiment table1 --profile small --tasks four_lane --jobs 2` for the seven offline methods
(VL-SAFE, VL-SAFE-NC, DreamerV3, FOSP, BC, CQL, IQL) × 3 seeds and the three reference rows, with the store
(`VLSAFE_HOME`) and the results in a fresh folder, so that no artifact is reused: datasets, labels, world models,
agents and baselines are all built. The target is ≤ 2.5 h on 2 cores.

It prints and writes (JSON): the total wall-clock seconds, each cell's `wall_time_s` from its metrics.json, the CPU
model and flags, the load average before and after, and, where a committed `results/tables/table1_small.csv` exists,
the fresh return and collision rate beside the committed ones (the same result ids, so they should agree up to
thread-order noise). Run it on an otherwise idle machine: it measures the sweep, it does not test it.

    python benchmarks/sweep_wallclock.py --out results/benchmarks/sweep_small_four_lane.json
    python benchmarks/sweep_wallclock.py --methods bc noop --seeds 0 --keep /tmp/sweep   # check the script itself
"""
from __future__ import annotations
import argparse, json, os, platform, shutil, subprocess, sys, tempfile, time
from pathlib import Path

METHODS = ('vlsafe', 'vlsafe_nc', 'dreamerv3', 'fosp', 'bc', 'cql', 'iql', 'expert', 'behaviour', 'noop')

def cpu() -> dict:
    "CPU model and the flags that decide the world model's precision (see `vlsafe.nets.native_bf16`)."
    from vlsafe.nets import cpu_flags
    flags, model = cpu_flags(), platform.processor()
    try: model = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass
    return dict(model=model, cores=os.cpu_count(), **{f: f in flags for f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16')})

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--methods', nargs='+', default=list(METHODS))
    ap.add_argument('--seeds', nargs='+', default=['0', '1', '2'])
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--keep', help='folder for the fresh store and results (default: a temporary one, removed after)')
    ap.add_argument('--out', help='JSON file for the figures')
    a = ap.parse_args(argv)
    root = Path(a.keep or tempfile.mkdtemp(prefix='vlsafe-sweep-'))
    if (root / 'store').exists() and any((root / 'store').iterdir()):
        sys.exit(f'{root / "store"} is not empty: the sweep must start from an empty store; pick another --keep folder')
    (root / 'store').mkdir(parents=True, exist_ok=True)
    vlsafe = shutil.which('vlsafe') or str(Path(sys.executable).with_name('vlsafe'))
    cmd = [vlsafe, 'reproduce', '--experiment', 'table1', '--profile', 'small', '--tasks', 'four_lane',
           '--methods', *a.methods, '--seeds', *a.seeds, '--jobs', str(a.jobs),
           '--results', str(root / 'results'), '--figures', str(root / 'figures')]
    env = {**os.environ, 'VLSAFE_HOME': str(root / 'store')}
    info = dict(command=' '.join(cmd[1:]), cpu=cpu(), load_before=os.getloadavg())
    print(json.dumps(info, indent=1), flush=True)
    t0 = time.time()
    rc = subprocess.call(cmd, env=env)
    info.update(returncode=rc, wall_s=round(time.time() - t0, 1), load_after=os.getloadavg())
    cells = {}
    for m in sorted((root / 'results' / 'table1' / 'small').glob('*/*/seed*/metrics.json')):
        d = json.loads(m.read_text())
        cells[f'{m.parent.parent.name}/{m.parent.name}'] = dict(wall_time_s=round(d.get('wall_time_s') or float('nan'), 1),
                                                               **{k: d['metrics'][k]['mean'] for k in ('return', 'collision_rate')})
    info['cells'] = cells
    committed = Path('results/tables/table1_small.csv')
    if committed.exists():
        import pandas as pd
        t = pd.read_csv(committed).set_index('method')
        info['committed'] = {m: {k: float(t.loc[m, k]) for k in ('return', 'collision_rate')}
                             for m in a.methods if m in t.index and t.loc[m, 'status'] != 'not run'}
    info['target_s'] = 2.5 * 3600
    print(json.dumps({k: v for k, v in info.items() if k != 'cells'}, indent=1))
    print(f"\nsweep: {info['wall_s'] / 3600:.2f} h wall-clock (target 2.50 h), exit code {rc}; {len(cells)} cells")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(a.out).with_suffix('.tmp'); tmp.write_text(json.dumps(info, indent=1)); os.replace(tmp, a.out)
    if not a.keep: shutil.rmtree(root, ignore_errors=True)
    return rc

if __name__ == '__main__':
    sys.exit(main())
