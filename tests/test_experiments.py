"The experiment notebooks run end to end through papermill with tiny parameters."
import json
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = {'data.episodes': 4, 'data.chunk_episodes': 2, 'env.max_steps': 30, 'wm.steps': 4, 'wm.batch_length': 8,
        'agent.steps': 4, 'agent.batch_length': 8, 'agent.horizon': 4, 'wm.lr': 3e-5}   # 3e-05 in JSON: YAML reads text


def test_table1_notebook_through_papermill(tmp_path, monkeypatch):
    pm = pytest.importorskip('papermill')
    monkeypatch.setenv('VLSAFE_HOME', str(tmp_path / 'store'))
    results = tmp_path / 'results'
    out_nb = tmp_path / 'table1.ipynb'
    pm.execute_notebook(str(ROOT / 'nbs' / 'experiments' / 'table1.ipynb'), str(out_nb), kernel_name='python3',
                        cwd=str(ROOT / 'nbs' / 'experiments'), progress_bar=False,
                        parameters=dict(task='four_lane', method='vlsafe', seed=0, profile='smoke', scorer='oracle',
                                        episodes=1, overrides=json.dumps(TINY), results=str(results)))
    run = results / 'table1' / 'smoke' / 'four_lane' / 'vlsafe' / 'seed0'
    m = json.loads((run / 'metrics.json').read_text())
    assert m['scorer']['kind'] == 'oracle' and m['episodes'] == 1 and m['method'] == 'vlsafe'
    assert m['config']['wm']['lr'] == 3e-5
    assert set(m['artifacts']) == {'dataset', 'labels', 'world_model', 'agent'}
    assert (run / 'episodes.csv').read_text().count('\n') == 2   # header + one episode
    executed = json.loads(out_nb.read_text())
    assert any('injected-parameters' in c['metadata'].get('tags', []) for c in executed['cells'])


def test_reproduce_on_ray_runs_cells_as_ray_tasks(tmp_path, capsys):
    "backend='ray': each missing cell runs as a Ray task (a local Ray instance here), then the table is aggregated."
    ray = pytest.importorskip('ray', reason="needs Ray (pip install -e '.[dev]')")
    from vlsafe.reproduce import reproduce, collect_runs
    results, figures = tmp_path / 'results', tmp_path / 'figures'
    ov = {**TINY, 'eval.episodes': 1, 'run.home': str(tmp_path / 'store'), 'run.progress': False,
          'baseline.steps': 4, 'baseline.log_every': 2}
    ray.init(num_cpus=2, log_to_driver=False)
    try:
        table = reproduce('table1', 'smoke', tasks=('four_lane',), methods=('vlsafe', 'bc'), seeds=(0,),
                          scorer='oracle', results=results, figures=figures, backend='ray', papermill=False,
                          progress=False, overrides=ov)
    finally:
        ray.shutdown()
    assert '2 cells, 0 done, 2 to run' in capsys.readouterr().out
    runs = collect_runs('table1', 'smoke', results)
    assert sorted(r['method'] for r in runs) == ['bc', 'vlsafe'] and all(r['episodes'] == 1 for r in runs)
    assert sorted(table['method']) == ['bc', 'vlsafe']
    assert (results / 'tables' / 'table1_smoke.md').exists() and (figures / 'table1_smoke_return_cost.png').exists()
    # the same call again finds both cells done and runs nothing (no Ray needed for that)
    again = reproduce('table1', 'smoke', tasks=('four_lane',), methods=('vlsafe', 'bc'), seeds=(0,), scorer='oracle',
                      results=results, figures=figures, backend='local', papermill=False, progress=False, overrides=ov)
    assert sorted(again['method']) == ['bc', 'vlsafe'] and '2 cells, 2 done, 0 to run' in capsys.readouterr().out
