"""The command line and the sweep as a user meets them: ad-hoc runs stay out of the sweep's cells, every flag is
honoured, a bad device is one line, a failing cell does not end a sweep, one store wherever the kernel starts."""
import json, re, os, sys
from pathlib import Path
import pytest
from test_identity import _probe_notebook, _episodes

ROOT = Path(__file__).resolve().parents[1]


def _main(*argv):
    from vlsafe.cli import main
    try: main(list(argv)); return 0
    except SystemExit as e: return e.code


def test_run_with_set_goes_to_a_variant_folder(tmp_path, monkeypatch):
    "`vlsafe run --set k=v` writes into <method>@set-<hash>, `--variant NAME` into <method>@NAME, plain runs into the cell."
    import vlsafe.reproduce as rp
    seen = []
    monkeypatch.setattr(rp, 'run_cell', lambda cfg, method, out, **kw: seen.append(Path(out)) or
                        {'metrics': {'return': {'mean': 1.0}}})
    res = str(tmp_path / 'results')
    assert _main('run', '--set', 'agent.beta1=1.5', '--results', res, '--quiet') == 0
    assert _main('run', '--set', 'agent.beta1=1.50', '--set', 'run.threads=1', '--results', res, '--quiet') == 0
    assert _main('run', '--set', 'agent.beta1=1.0', '--variant', 'b1', '--results', res, '--quiet') == 0
    assert _main('run', '--results', res, '--quiet') == 0
    names = [p.parent.name for p in seen]
    assert names[0].startswith('vlsafe@set-') and names[1] == names[0]   # same values, run-only keys aside: one folder
    assert names[2:] == ['vlsafe@b1', 'vlsafe'] and all(p.name == 'seed0' for p in seen)


def test_train_baseline_reads_config_file(tmp_path, monkeypatch):
    import vlsafe.baselines as bl
    seen = []
    monkeypatch.setattr(bl, 'train_baseline', lambda cfg, method, ds, st, progress=True: seen.append(cfg) or 'baseline-x')
    y = tmp_path / 'c.yaml'; y.write_text('baseline:\n  lr: 0.0123\n  steps: 7\n')
    assert _main('--home', str(tmp_path / 'store'), 'train-baseline', '--method', 'ppo', '--config', str(y), '--quiet') == 0
    assert (seen[0].baseline.lr, seen[0].baseline.steps) == (0.0123, 7)


@pytest.mark.parametrize('device, msg', [('gpu', "'run.device' = 'gpu' is not a device"), ('cuda:99', "run.device='cuda:99'")])
def test_invalid_device_is_one_line(device, msg, tmp_path, capsys):
    assert _main('--home', str(tmp_path), 'train-wm', '--set', f'run.device={device}') == 2
    err = capsys.readouterr().err
    assert msg in err and 'Traceback' not in err and len(err.strip().splitlines()) == 1


def _failing_notebook(path: Path):
    nb = json.loads(_probe_notebook(path).read_text())
    nb['cells'][1]['source'] = "raise ValueError('boom: the cell broke')"
    path.write_text(json.dumps(nb)); return path


def test_sweep_runs_past_a_failed_cell(tmp_path, monkeypatch, capsys):
    """One failing cell: the other cells run and are aggregated, the failure is listed with its error's last line,
    and `vlsafe reproduce` exits 1; `--fail-fast` stops at it."""
    import vlsafe.reproduce as rp
    from vlsafe.evaluate import write_run
    def fake(cfg, method, out, **kw):
        if method == 'dreamerv3': raise RuntimeError('first line\nwm diverged: loss is nan')
        return write_run(out, cfg, _episodes(), {}, {'kind': 'oracle'}, 0.0, method)
    monkeypatch.setattr(rp, 'run_cell', fake)
    res, fig = tmp_path / 'results', tmp_path / 'fig'
    args = ['--home', str(tmp_path / 'store'), 'reproduce', '--experiment', 'table1', '--profile', 'smoke', '--tasks',
            'four_lane', '--methods', 'dreamerv3', 'vlsafe', '--seeds', '0', '--scorer', 'oracle', '--no-papermill',
            '--results', str(res), '--figures', str(fig), '--quiet']
    assert _main(*args) == 1
    out = capsys.readouterr()
    assert 'table1/smoke/four_lane/dreamerv3/seed0: RuntimeError: wm diverged: loss is nan' in out.err
    # ‡ marks the row where this checkout has uncommitted changes (the fake run records the commit it ran at)
    assert re.search(r'\| vlsafe‡? \| 1 \|', out.out) and (res / 'table1' / 'smoke' / 'four_lane' / 'vlsafe' / 'seed0' / 'metrics.json').exists()
    rec = json.loads((res / 'table1' / 'smoke' / 'failures.json').read_text())
    assert rec == [{'cell': 'table1/smoke/four_lane/dreamerv3/seed0', 'error': 'RuntimeError: wm diverged: loss is nan', 'notebook': ''}]
    (res / 'table1' / 'smoke' / 'four_lane' / 'vlsafe' / 'seed0' / 'metrics.json').unlink()
    with pytest.raises(RuntimeError, match='wm diverged'): _main(*args, '--fail-fast')
    assert not (res / 'table1' / 'smoke' / 'four_lane' / 'vlsafe' / 'seed0' / 'metrics.json').exists()


def test_failed_notebook_is_kept_and_named(tmp_path):
    pytest.importorskip('papermill')
    from vlsafe.reproduce import plan, run_notebook, cell_failure, cell_out_dir
    _failing_notebook(tmp_path / 'table1.ipynb')
    cell = plan('table1', 'smoke', ('four_lane',), ('vlsafe',), (0,), 'oracle', {'run.home': str(tmp_path / 'store')})[0]
    with pytest.raises(Exception) as e: run_notebook(cell, tmp_path / 'results', nb_dir=tmp_path)
    f = cell_failure(cell, e.value)
    assert f['cell'] == 'table1/smoke/four_lane/vlsafe/seed0' and f['error'] == 'ValueError: boom: the cell broke'
    assert Path(f['notebook']) == cell_out_dir(cell, tmp_path / 'results') / 'table1.failed.ipynb' and Path(f['notebook']).exists()


def test_kernels_use_one_absolute_store(tmp_path, monkeypatch):
    """VLSAFE_HOME given relative to where the sweep starts: the papermill kernel (which starts in the notebook's
    folder) sees the same store, as an absolute path."""
    pytest.importorskip('papermill')
    from vlsafe.reproduce import plan, run_notebook
    nbdir = tmp_path / 'nbs'; nbdir.mkdir()
    _probe_notebook(nbdir / 'table1.ipynb')
    start = tmp_path / 'start'; start.mkdir()
    monkeypatch.chdir(start); monkeypatch.setenv('VLSAFE_HOME', 'rel_store')
    cell = plan('table1', 'smoke', ('four_lane',), ('vlsafe',), (0,), 'oracle')[0]
    cell['out'] = str(tmp_path / 'seen.json')
    run_notebook(cell, tmp_path / 'results', nb_dir=nbdir)
    seen = json.loads((tmp_path / 'seen.json').read_text())
    assert seen['root'] == str(start / 'rel_store') and seen['cwd'] == str(nbdir)


def test_clip_presets_defined_once():
    import vlsafe.label, vlsafe.reproduce
    assert vlsafe.reproduce.CLIP_PRESETS is vlsafe.label.CLIP_PRESETS
    src = (ROOT / 'nbs' / '08_reproduce.ipynb').read_text()
    assert 'CLIP_PRESETS = ' not in src


@pytest.mark.parametrize('experiment, rows', [('beta', 9), ('generalization', 52), ('data_size', 9)])
def test_experiments_beyond_table1_run_from_the_cli(experiment, rows, tmp_path, monkeypatch, capsys):
    "`vlsafe reproduce --experiment NAME` plans, runs (training stubbed here) and aggregates each experiment."
    import vlsafe.reproduce as rp
    from vlsafe.evaluate import write_run
    seen = []
    def fake(cfg, method, out, **kw):
        seen.append((method, Path(out).parent.name, cfg.eval.traffic_density, cfg.agent.beta1, cfg.data.episodes))
        return write_run(out, cfg, _episodes(), {}, {'kind': 'oracle'} if method in rp.WM_METHODS else None, 0.0, method)
    monkeypatch.setattr(rp, 'run_cell', fake)
    res = tmp_path / 'results'
    assert _main('--home', str(tmp_path / 'store'), 'reproduce', '--experiment', experiment, '--profile', 'smoke',
                 '--seeds', '0', '--scorer', 'oracle', '--no-papermill', '--results', str(res),
                 '--figures', str(tmp_path / 'fig'), '--quiet') == 0
    assert len(seen) == rows and len({s[1:] for s in seen}) == rows
    table = (res / 'tables' / f'{experiment}_smoke.csv')
    import pandas as pd
    assert len(pd.read_csv(table)) == rows and f'{experiment} @ smoke: {rows} cells' in capsys.readouterr().out


def test_strict_refuses_an_artifact_of_another_code_version(tmp_path, monkeypatch, capsys):
    "`vlsafe --strict` turns the stale-artifact warning into one error line naming the rebuild."
    from vlsafe.store import Store
    monkeypatch.setenv('VLSAFE_STRICT', '')          # main() exports the flag for kernels; undone after the test
    st = Store(tmp_path)
    st.begin('dataset', 'dataset-old'); st.commit('dataset', 'dataset-old', {'episodes': 3})
    m = json.loads((st.path('dataset', 'dataset-old') / 'manifest.json').read_text())
    m['code_version'] = 0; (st.path('dataset', 'dataset-old') / 'manifest.json').write_text(json.dumps(m))
    assert _main('--home', str(tmp_path), '--strict', 'label', '--scorer', 'oracle', '--dataset', 'dataset-old') == 2
    err = capsys.readouterr().err
    assert 'made by version 0 of the dataset stage' in err and 'vlsafe store rm dataset dataset-old' in err

@pytest.mark.parametrize('argv, scorer', [([], 'clip'), (['--set', 'label.scorer=oracle'], 'oracle'),
                                          (['--scorer', 'oracle'], 'oracle'),
                                          (['--set', 'label.scorer=oracle', '--scorer', 'clip'], 'clip')])
def test_scorer_from_set_is_not_overridden_by_a_flag_default(argv, scorer):
    "`--set label.scorer=oracle` is honoured when --scorer is not given; an explicit --scorer wins."
    from vlsafe.cli import parser, _cfg
    a = parser().parse_args(['train-wm', '--task', 'four_lane', *argv])
    assert _cfg(a, **{'label.scorer': a.scorer}).label.scorer == scorer
