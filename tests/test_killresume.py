"""Kill -9 anywhere, lose nothing: each long stage, run from the command line, is SIGKILLed once it has written
resumable work, run again with the same command, and must end with the artifact an uninterrupted run makes.

On CPU the stages are deterministic given their seeds and resume restores every random state, so "the same" means
bit-identical: equal tensors, equal arrays, equal episodes. (Labelling has its own kill test in test_label.py.)"""
import os, re, shutil, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest

BIN = Path(sys.executable).parent
# smoke profile, shrunk so that each run takes seconds; one collection worker so the killed process is the only writer
DATA = ['--set', 'data.episodes=8', '--set', 'data.chunk_episodes=2', '--set', 'env.max_steps=40', '--set', 'data.workers=1']
WM = ['--set', 'wm.steps=40', '--set', 'wm.ckpt_every=8', '--set', 'wm.log_every=8', '--set', 'wm.batch_length=8']
AGENT = ['--set', 'agent.steps=30', '--set', 'agent.ckpt_every=6', '--set', 'agent.log_every=6',
         '--set', 'agent.batch_length=8', '--set', 'agent.horizon=4']
BASE = ['--set', 'baseline.steps=40', '--set', 'baseline.ckpt_every=8', '--set', 'baseline.log_every=8']
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}
SPEED = re.compile(r'per_s|time|sec|wall|fps')   # how fast, not what: differs between any two runs


def _cmd(home, *args): return [str(BIN / 'vlsafe'), '--home', str(home), *args]


def _run(home, *args) -> tuple[str, str]:
    "Run to the end; returns (artifact id = last stdout line, stderr)."
    r = subprocess.run(_cmd(home, *args), capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip().splitlines()[-1], r.stderr


def _kill_when(home, kind: str, ready: str, *args):
    """Start the command; SIGKILL it as soon as `<home>/<kind>/.partial/*/<ready>` exists (resumable work on disk)
    and before its artifact is committed."""
    home.mkdir(parents=True, exist_ok=True)
    err = home.parent / f'{home.name}.killed.stderr'
    p = subprocess.Popen(_cmd(home, *args), stdout=subprocess.DEVNULL, stderr=open(err, 'w'), env=ENV)
    try:
        deadline = time.time() + 600
        while not list((home / kind / '.partial').glob(f'*/{ready}')):
            assert p.poll() is None, f'the run ended (rc {p.returncode}) before it wrote {ready}: {err.read_text()[-2000:]}'
            assert time.time() < deadline
            time.sleep(0.02)
    finally:
        p.send_signal(signal.SIGKILL); p.wait()
    assert not list((home / kind).glob('*/manifest.json')), 'finished before the kill: nothing was interrupted'


def _resumed_from(stderr: str, desc: str) -> int:
    "The first count the stage's progress bar showed: where the rerun started."
    m = re.search(re.escape(desc) + r'[^|]*\|[^|]*\|\s*(\d+)/\d+', stderr)
    assert m, stderr[-2000:]
    return int(m.group(1))


def _same(a, b, where=''):
    "Recursive equality, exact for tensors and arrays."
    import torch
    if isinstance(a, torch.Tensor): assert torch.equal(a, b), where; return
    if isinstance(a, np.ndarray): assert np.array_equal(a, b, equal_nan=True), where; return
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            if not SPEED.search(str(k)): _same(a[k], b[k], f'{where}.{k}')
        return
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)): _same(x, y, f'{where}[{i}]')
        return
    assert a == b or (a != a and b != b), (where, a, b)


def _same_artifact(pa: Path, pb: Path):
    """Two artifacts hold the same files (TensorBoard's event files aside: named by time and process) with equal
    tensors in every .pt, equal JSON, and equal training logs (speed columns aside)."""
    import json, torch, pandas as pd
    names = lambda p: sorted(str(f.relative_to(p)) for f in p.rglob('*') if f.is_file() and f.parent.name != 'tb'
                             and f.name != 'manifest.json')
    assert names(pa) == names(pb)
    n_pt = 0
    for n in names(pa):
        if n.endswith('.pt'):
            n_pt += 1; _same(torch.load(pa / n, weights_only=True), torch.load(pb / n, weights_only=True), n)
        elif n.endswith('.json'): assert json.loads((pa / n).read_text()) == json.loads((pb / n).read_text()), n
        elif n.endswith('.csv'):
            x, y = pd.read_csv(pa / n), pd.read_csv(pb / n)
            keep = [c for c in x.columns if not SPEED.search(c)]
            pd.testing.assert_frame_equal(x[keep], y[keep], check_exact=True, obj=n)
    assert n_pt


@pytest.fixture(scope='module')
def labelled(tmp_path_factory):
    "A store with the tiny dataset and its oracle labels (built once; each test copies it)."
    home = tmp_path_factory.mktemp('labelled')
    _run(home, 'label', '--scorer', 'oracle', *DATA)
    return home


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns('.locks')); return dst


def test_collect_killed_resumes_identically(tmp_path):
    from vlsafe.data import load_episodes
    from vlsafe.store import Store
    a, b = tmp_path / 'a', tmp_path / 'b'
    _kill_when(a, 'dataset', 'chunks/eps-*', 'collect', *DATA)
    kept = len(list((a / 'dataset' / '.partial').glob('*/chunks/eps-*')))
    did, err = _run(a, 'collect', *DATA)
    assert _resumed_from(err, 'collect four_lane') == 2 * kept > 0    # finished chunks were not collected again
    assert _run(b, 'collect', *DATA)[0] == did
    ea, eb = load_episodes(did, Store(a)), load_episodes(did, Store(b))
    assert len(ea) == len(eb) == 8
    for x, y in zip(ea, eb):
        assert (x.id, x.policy, x.seed, x.terminated, x.truncated) == (y.id, y.policy, y.seed, y.terminated, y.truncated)
        for k in ('bev', 'actions', 'rewards', 'costs', 'infos'): _same(getattr(x, k), getattr(y, k), k)


def _killed_equals_uninterrupted(a: Path, b: Path, kind: str, bar: str, *args):
    """SIGKILL `vlsafe <args>` in store `a` once its checkpoint is on disk, rerun it there (its progress bar `bar`
    must start past 0), run it uninterrupted in store `b`, and compare the two artifacts of `kind`."""
    from vlsafe.store import Store
    _kill_when(a, kind, 'ckpt.pt', *args)
    aid, err = _run(a, *args)
    assert _resumed_from(err, bar) > 0
    assert _run(b, *args)[0] == aid
    _same_artifact(Store(a).path(kind, aid), Store(b).path(kind, aid))


def test_train_wm_killed_resumes_identically(tmp_path, labelled):
    a, b = _copy(labelled, tmp_path / 'a'), _copy(labelled, tmp_path / 'b')
    _killed_equals_uninterrupted(a, b, 'wm', 'world model', 'train-wm', '--scorer', 'oracle', *DATA, *WM)


def test_train_agent_killed_resumes_identically(tmp_path, labelled):
    base = _copy(labelled, tmp_path / 'base')
    _run(base, 'train-wm', '--scorer', 'oracle', *DATA, *WM)
    a, b = _copy(base, tmp_path / 'a'), _copy(base, tmp_path / 'b')
    _killed_equals_uninterrupted(a, b, 'agent', 'agent vlsafe', 'train-agent', '--scorer', 'oracle', '--objective',
                                 'vlsafe', *DATA, *WM, *AGENT)


def test_offline_baseline_killed_resumes_identically(tmp_path, labelled):
    a, b = _copy(labelled, tmp_path / 'a'), _copy(labelled, tmp_path / 'b')
    _killed_equals_uninterrupted(a, b, 'baseline', 'baseline iql', 'train-baseline', '--method', 'iql', *DATA, *BASE)
