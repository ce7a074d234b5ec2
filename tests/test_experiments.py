"The experiment notebooks run end to end through papermill with tiny parameters."
import json
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = {'data.episodes': 4, 'data.chunk_episodes': 2, 'env.max_steps': 30, 'wm.steps': 4, 'wm.batch_length': 8,
        'agent.steps': 4, 'agent.batch_length': 8, 'agent.horizon': 4, 'wm.lr': 3e-5}   # a float YAML 1.1 reads only with a dot


def test_table1_notebook_through_papermill(tmp_path, monkeypatch):
    """A sweep's cell as `reproduce` runs it: the cell's config saved beside its results, the notebook handed that
    file's path and the keys that are not config; its result records the very config (3e-05 included)."""
    pytest.importorskip('papermill')
    from vlsafe.reproduce import plan, run_notebook, _cell_cfg, CELL_CONFIG_KEYS
    from vlsafe.config import load_config, to_dict
    monkeypatch.setenv('VLSAFE_HOME', str(tmp_path / 'store'))
    results = tmp_path / 'results'
    cell = plan('table1', 'smoke', ('four_lane',), ('vlsafe',), (0,), 'oracle', {**TINY, 'eval.episodes': 1})[0]
    out_nb = run_notebook(cell, results)
    run = results / 'table1' / 'smoke' / 'four_lane' / 'vlsafe' / 'seed0'
    assert out_nb == run / 'table1.ipynb'
    m = json.loads((run / 'metrics.json').read_text())
    assert m['scorer']['kind'] == 'oracle' and m['episodes'] == 1 and m['method'] == 'vlsafe'
    assert m['config']['wm']['lr'] == 3e-5 and m['config'] == to_dict(load_config(run / 'config.yaml')) == to_dict(_cell_cfg(cell))
    assert set(m['artifacts']) == {'dataset', 'labels', 'world_model', 'agent'}
    assert (run / 'episodes.csv').read_text().count('\n') == 2   # header + one episode
    executed = json.loads(out_nb.read_text())
    injected = ''.join(next(c['source'] for c in executed['cells'] if 'injected-parameters' in c['metadata'].get('tags', [])))
    assert 'config = ' in injected and not any(f'{k} = ' in injected for k in CELL_CONFIG_KEYS)


def test_reproduce_on_ray_runs_cells_as_ray_tasks(tmp_path, capsys, monkeypatch):
    """backend='ray': each missing cell runs as a Ray task (a local Ray instance here), two at once on one store:
    VL-SAFE and DreamerV3 share the dataset, the labels and the world model, which are built once (the other cell
    waits on the build lock and reuses them); then the table is aggregated."""
    ray = pytest.importorskip('ray', reason="needs Ray (pip install -e '.[dev]')")
    from vlsafe.reproduce import reproduce, collect_runs
    from vlsafe.tables import aggregate
    from vlsafe.store import Store
    results, figures, home = tmp_path / 'results', tmp_path / 'figures', tmp_path / 'store'
    ov = {**TINY, 'eval.episodes': 1, 'run.home': str(home), 'run.progress': False, 'run.threads': 1}
    monkeypatch.setenv('VLSAFE_RAY_CPUS', '1')   # one CPU per cell: both cells are scheduled at once
    try: ray.init(num_cpus=2, log_to_driver=False, include_dashboard=False)
    except Exception as e:   # Ray's own start-up (30 s, fixed in Ray) can time out on an overloaded machine
        pytest.skip(f'a local Ray node did not start here: {e}')
    try:
        cells = reproduce('table1', 'smoke', tasks=('four_lane',), methods=('vlsafe', 'dreamerv3'), seeds=(0,),
                          scorer='oracle', results=results, backend='ray', papermill=False, progress=False, overrides=ov)
    finally:
        ray.shutdown()
    assert '2 cells, 0 done, 2 to run' in capsys.readouterr().out
    runs = collect_runs('table1', 'smoke', results)
    assert sorted(r['method'] for r in runs) == ['dreamerv3', 'vlsafe'] and all(r['episodes'] == 1 for r in runs)
    # the two cells ran at the same time: each one's span (end = metrics.json written, start = end - wall time) overlaps
    spans = [((e := (Path(r['_dir']) / 'metrics.json').stat().st_mtime) - r['wall_time_s'], e) for r in runs]
    assert max(s for s, _ in spans) < min(e for _, e in spans)
    st = Store(home)
    assert [len(st.list(k)) for k in ('dataset', 'labels', 'wm', 'agent')] == [1, 1, 1, 2]
    assert runs[0]['artifacts']['world_model'] == runs[1]['artifacts']['world_model']
    table = aggregate('table1', 'smoke', results, figures, cells=cells)
    assert sorted(table['method'].str.split('@').str[0].unique()) == ['dreamerv3', 'vlsafe']
    assert (results / 'tables' / 'table1_smoke.md').exists() and (figures / 'table1_smoke_return_cost.png').exists()
    # the same call again finds both cells done and runs nothing (no Ray needed for that)
    reproduce('table1', 'smoke', tasks=('four_lane',), methods=('vlsafe', 'dreamerv3'), seeds=(0,), scorer='oracle',
              results=results, backend='local', papermill=False, progress=False, overrides=ov)
    assert '2 cells, 2 done, 0 to run' in capsys.readouterr().out
