"""Committed results against a user's own runs: where runs go, which committed cells are stale, and that canonical
cells come from a committed tree."""
import json, shutil, subprocess
from pathlib import Path
import pytest
from vlsafe.cli import main, parser
from vlsafe.config import ConfigError
from vlsafe.reproduce import stale_cells
from vlsafe.tables import aggregate
from vlsafe.store import CODE_VERSIONS, require_committed_tree, tree_changes, is_canonical, USER_RESULTS

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / 'results' / 'table1' / 'smoke'


def test_committed_smoke_cells_are_current():
    "Code that changes what the smoke profile computes (a default, a stage's code version) must regenerate its cells."
    s = stale_cells(ROOT / 'results', profiles=['smoke'])
    assert len(s) == 13, f'expected the 13 smoke cells of Table I, found {len(s)}'
    stale = s[s['state'] != 'current']
    assert stale.empty, ('committed smoke cells are stale; regenerate them from a committed tree with '
                         '`vlsafe smoke --canonical`:\n' + stale[['cell', 'why']].to_string())
    assert not s['dirty'].any(), 'committed smoke cells must come from a committed tree'


def test_committed_cells_read_back_from_their_saved_config(tmp_path):
    """The config file a sweep saves for each cell's notebook reads back as the very config the sweep planned: for
    every committed cell of a planned sweep, the same fields in the same order, and so the same result hash."""
    from vlsafe.config import load_config, to_dict
    from vlsafe.evaluate import result_hash
    from vlsafe.reproduce import SWEEPS, cells_by_dir, collect_runs, _cell_cfg
    from vlsafe.store import save_config
    n = 0
    for exp in sorted(p.name for p in (ROOT / 'results').iterdir() if p.name in SWEEPS):
        for prof in ('smoke', 'small'):
            by_dir = cells_by_dir(exp, prof, ROOT / 'results')
            for r in collect_runs(exp, prof, ROOT / 'results'):
                cell = by_dir.get(str(Path(r['_dir']).resolve()))
                if cell is None: continue
                cfg = _cell_cfg(cell); back = load_config(save_config(cfg, tmp_path / 'config.yaml'))
                assert json.dumps(to_dict(back)) == json.dumps(to_dict(cfg)), r['_dir']
                assert result_hash(back, r['method']) == result_hash(cfg, r['method']), r['_dir']
                n += 1
    assert n > 100   # Table I's smoke and small cells, and the small sweeps beyond it


@pytest.mark.parametrize('cmd,canonical', [('smoke', False), ('run', False), ('reproduce', True), ('aggregate', True)])
def test_a_users_runs_go_under_runs(cmd, canonical):
    a = parser().parse_args([cmd])
    assert (Path(a.results) == Path('results')) == canonical
    if not canonical: assert Path(a.results) == USER_RESULTS and Path(a.figures).parts[0] == 'runs'


def _repo(tmp_path) -> Path:
    repo = tmp_path / 'repo'
    (repo / 'results').mkdir(parents=True); (repo / 'code.py').write_text('x = 1\n'); (repo / 'results' / 'r.json').write_text('{}')
    git = lambda *a: subprocess.run(['git', *a], cwd=repo, check=True, capture_output=True)
    git('init', '-q'); git('add', '.'); git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'init')
    return repo


def test_canonical_cells_need_a_committed_tree(tmp_path):
    repo = _repo(tmp_path)
    assert is_canonical(repo / 'results') and not is_canonical(repo / 'runs' / 'results')
    require_committed_tree(repo / 'results')                       # clean: fine
    (repo / 'results' / 'r.json').write_text('{"a": 1}')           # results of a sweep under way do not count
    assert tree_changes(repo) == []
    require_committed_tree(repo / 'results')
    (repo / 'code.py').write_text('x = 2\n')                       # a code change does
    assert tree_changes(repo) == ['code.py']
    with pytest.raises(ConfigError, match='uncommitted changes.*code.py.*--allow-dirty'):
        require_committed_tree(repo / 'results')
    require_committed_tree(repo / 'results', allow_dirty=True)
    require_committed_tree(repo / 'runs' / 'results')             # a user's own folder: never refused


def _copy_cells(tmp_path, methods=('bc', 'noop')) -> Path:
    res = tmp_path / 'results'
    for m in methods: shutil.copytree(SMOKE / 'four_lane' / m, res / 'table1' / 'smoke' / 'four_lane' / m)
    return res


def test_status_names_stale_cells_and_why(tmp_path, monkeypatch, capsys):
    res = _copy_cells(tmp_path)
    main(['status', '--results', str(res)])                       # current: exit 0
    assert '2 current, 0 stale' in capsys.readouterr().out
    monkeypatch.setitem(CODE_VERSIONS, 'baseline', CODE_VERSIONS['baseline'] + 1)
    with pytest.raises(SystemExit) as e: main(['status', '--results', str(res)])
    assert e.value.code == 1
    out = capsys.readouterr().out
    assert 'stale  table1/smoke/four_lane/bc/seed0: code versions baseline' in out and '1 current, 1 stale' in out


def test_status_against_a_fresh_run(tmp_path, capsys):
    res, mine = _copy_cells(tmp_path), _copy_cells(tmp_path / 'mine')
    main(['status', '--results', str(res), '--against', str(mine)])
    assert 'cells made on this kind of CPU differ' in capsys.readouterr().out
    ep = mine / 'table1' / 'smoke' / 'four_lane' / 'bc' / 'seed0' / 'episodes.csv'
    lines = ep.read_text().splitlines(); head, row = lines[0].split(','), lines[1].split(',')
    row[head.index('return')] = str(float(row[head.index('return')]) + 1)
    ep.write_text('\n'.join([lines[0], ','.join(row)] + lines[2:]) + '\n')
    m = json.loads((mine / 'table1/smoke/four_lane/bc/seed0/metrics.json').read_text())
    theirs = json.loads((res / 'table1/smoke/four_lane/bc/seed0/metrics.json').read_text())
    if m.get('machine', {}).get('isa') is None:
        pytest.skip('the committed smoke cells record no CPU kind (isa): regenerate them')
    with pytest.raises(SystemExit): main(['status', '--results', str(res), '--against', str(mine)])
    assert 'bc/seed0: differs in return' in capsys.readouterr().out
    # the same difference from another kind of CPU is reported, not failed: float kernels differ between vector units
    f = mine / 'table1/smoke/four_lane/bc/seed0/metrics.json'
    f.write_text(json.dumps(dict(m, machine=dict(m['machine'], isa='other-cpu'))))
    main(['status', '--results', str(res), '--against', str(mine)])
    assert f"differs (other CPU: {theirs['machine']['isa']} vs other-cpu)  table1/smoke/four_lane/bc/seed0" in capsys.readouterr().out


def test_tables_mark_stale_and_dirty_rows(tmp_path, monkeypatch):
    res = _copy_cells(tmp_path)
    f = res / 'table1/smoke/four_lane/bc/seed0/metrics.json'
    f.write_text(json.dumps(dict(json.loads(f.read_text()), git_commit='0123abc+dirty')))
    monkeypatch.setitem(CODE_VERSIONS, 'eval', CODE_VERSIONS['eval'] + 1)   # every row stale
    t = aggregate('table1', 'smoke', res, tmp_path / 'figures', diagnostics=False)
    done = t.set_index('method')
    assert done.loc['bc', 'dirty_seeds'] == 1 and done.loc['noop', 'dirty_seeds'] == 0
    assert (done.loc[['bc', 'noop'], 'stale_seeds'] == 1).all() and 'code versions eval' in done.loc['bc', 'stale_why']
    md = (res / 'tables' / 'table1_smoke.md').read_text()
    assert '| bc†‡ |' in md and '| noop† |' in md and '† stale' in md and '‡ some of its seeds' in md
