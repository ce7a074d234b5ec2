"Labeling job: resume after a real SIGKILL, and real-weights checks that skip (with the reason) where no weights exist."
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import numpy as np
import pytest

from vlsafe.config import get_config
from vlsafe.label import CLIP_PRESETS, ClipScorer, clip_weights_available, label_dataset, load_labels
from vlsafe.store import Store

# A child process labels 6 constructed episodes (8 chunks of 16 frames) with the tiny random CLIP model, slowed down
# so that the parent can SIGKILL it after the first chunks are on disk.
CHILD = textwrap.dedent('''
    import sys, time, warnings, numpy as np, torch
    torch.set_num_threads(1); warnings.simplefilter('ignore')
    from vlsafe.config import get_config
    from vlsafe.label import ClipScorer, label_dataset, TINY_CLIP
    from vlsafe.store import Store
    class Ep:
        def __init__(self, i):
            self.id, self.policy, self.infos = i, 'expert', {}
            self.bev = np.random.default_rng(i).integers(0, 256, (20 + i % 2, 32, 32, 3), dtype=np.uint8)
    class Slow(ClipScorer):
        def score_frames(self, x):
            p = super().score_frames(x); print('chunk', flush=True); time.sleep(float(sys.argv[2])); return p
    cfg = get_config('smoke', {'label.model': TINY_CLIP, 'label.pretrained': 'random', 'label.chunk_frames': 16})
    print(label_dataset(cfg, 'dataset-kill', Store(sys.argv[1]), progress=False, scorer=Slow(TINY_CLIP, 'random'),
                        episodes=[Ep(i) for i in range(6)]), flush=True)
''')


def _run(root, delay):
    return subprocess.Popen([sys.executable, '-c', CHILD, str(root), str(delay)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS='1'))


def test_resume_after_sigkill(tmp_path):
    proc = _run(tmp_path, 3)
    try:
        chunks = tmp_path / 'labels' / '.partial'
        for line in proc.stdout:          # wait until the third chunk has been scored (two are written by then)
            if line.strip() == 'chunk' and len(list(chunks.glob('*/chunks/*.npz'))) >= 2: break
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL); proc.wait()
    done = {p.name: p.stat().st_mtime_ns for p in chunks.glob('*/chunks/*.npz')}
    assert len(done) in (2, 3), done      # killed mid-job: some chunks on disk, no artifact yet
    assert not list((tmp_path / 'labels').glob('labels-*/manifest.json'))
    proc = _run(tmp_path, 0)
    out, _ = proc.communicate(timeout=600)
    lines = out.split()
    assert proc.returncode == 0 and lines.count('chunk') == 8 - len(done), out   # only the unfinished chunks
    lid = lines[-1]
    final = Store(tmp_path).path('labels', lid) / 'chunks'
    assert all((final / n).stat().st_mtime_ns == t for n, t in done.items())     # finished chunks untouched
    labels = load_labels(lid, Store(tmp_path), dataset_id='dataset-kill')
    assert sorted(labels) == list(range(6)) and sum(map(len, labels.values())) == 6 * 20 + 3
    assert all(((v >= 0) & (v <= 1)).all() for v in labels.values())


@pytest.mark.skipif(not clip_weights_available(get_config('smoke').label)[0],
                    reason='needs the ViT-B-32 openai CLIP weights on disk (set label.checkpoint or allow the download)')
def test_real_clip_prefers_safe_prompt_on_clean_road():
    "With real weights: p is a probability and the preset loads without network access."
    sc = ClipScorer.preset('ViT-B-32')
    frames = np.full((2, 128, 128, 3), 60, np.uint8); frames[:, 70:82, 60:66] = (255, 0, 0)
    p = sc.score_frames(frames)
    assert p.shape == (2,) and ((0 < p) & (p < 1)).all() and abs(p[0] - p[1]) < 1e-6
    assert sc.identity['random_weights'] is False and sc.identity['quick_gelu'] is True


class _Ep:
    "A constructed episode: random BEV frames only (the CLIP scorer reads nothing else)."
    def __init__(self, i):
        self.id, self.policy, self.infos = i, 'expert', {}
        self.bev = np.random.default_rng(i).integers(0, 256, (20 + i % 2, 32, 32, 3), dtype=np.uint8)


class _DieAfter:
    "Wraps a scorer; raises after `n` chunks, leaving those chunks on disk."
    def __init__(self, inner, n): self.inner, self.n, self.identity = inner, n, inner.identity
    def score_frames(self, x):
        if self.n == 0: raise RuntimeError('stop')
        self.n -= 1; return self.inner.score_frames(x)


def test_ray_labelling_equals_local_and_resumes(tmp_path, monkeypatch):
    "label.backend='ray' scores chunks on a pool of Ray actors: same labels as in-process, and it resumes a partial job."
    ray = pytest.importorskip('ray', reason="needs Ray (pip install -e '.[dev]')")
    import torch
    from vlsafe.label import TINY_CLIP
    torch.set_num_threads(1)
    eps = [_Ep(i) for i in range(4)]                       # 82 frames -> 6 chunks of 16 (the last one of 2)
    n_frames = sum(len(e.bev) for e in eps)
    over = {'label.model': TINY_CLIP, 'label.pretrained': 'random', 'label.chunk_frames': 16}
    local = label_dataset(get_config('smoke', over), 'dataset-ray', Store(tmp_path / 'a'), progress=False, episodes=eps)
    # a partial job: 2 chunks scored in-process, then the process fails
    cfg_ray = get_config('smoke', {**over, 'label.backend': 'ray', 'label.ray_actors': 2})
    part = Store(tmp_path / 'b')
    with pytest.raises(RuntimeError, match='stop'):
        label_dataset(get_config('smoke', over), 'dataset-ray', part, progress=False, episodes=eps,
                      scorer=_DieAfter(ClipScorer(TINY_CLIP, 'random'), 2))
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / 'b' / 'labels' / '.partial').glob('*/chunks/*.npz')}
    assert len(first) == 2
    import vlsafe.label as L
    seen, dispatch = [], L._ray_chunks
    def spy(*a, **kw):                                     # records which chunks came back from the actors
        for k, p in dispatch(*a, **kw): seen.append(k); yield k, p
    monkeypatch.setattr(L, '_ray_chunks', spy)
    ray.init(num_cpus=2, log_to_driver=False)
    try:
        lid = label_dataset(cfg_ray, 'dataset-ray', part, progress=False, episodes=eps)   # actors build their scorers
    finally:
        ray.shutdown()
    assert lid == local                                    # the backend is not part of the labels' identity
    assert sorted(seen) == [2, 3, 4, 5]                    # the four missing chunks, scored by the Ray actors
    chunks = part.path('labels', lid) / 'chunks'
    assert all((chunks / n).stat().st_mtime_ns == t for n, t in first.items())      # finished chunks untouched
    assert part.manifest('labels', lid)['frames_scored_last_run'] == n_frames - 32   # only the other 4 chunks
    a, b = load_labels(local, Store(tmp_path / 'a')), load_labels(lid, part)
    assert sorted(a) == sorted(b) == [0, 1, 2, 3]
    for k in a: np.testing.assert_allclose(a[k], b[k], atol=1e-6)


# --- BEV-CLIP: a model trained here goes through the same door as downloaded CLIP weights -------------------------

@pytest.fixture(scope='module')
def bev_clip(tmp_path_factory):
    """bev-clip-xs trained for 150 steps on constructed episodes (half end in a crash, drawn in the frames), two of
    them held out (ids 4: safe, 5: crash, with vlm.seed 3); returns (cfg, store, vlm id, episodes)."""
    import warnings, torch
    from vlsafe.vlm import holdout_episodes, toy_episode, train_vlm
    torch.set_num_threads(1)
    store = Store(tmp_path_factory.mktemp('vlm'))
    cfg = get_config('smoke', {'vlm.steps': 150, 'vlm.batch_size': 32, 'vlm.lr': 1e-3, 'vlm.warmup': 5,
                               'vlm.horizon': 5, 'vlm.holdout': 0.25, 'vlm.seed': 3, 'run.threads': 1,
                               'label.oracle_horizon': 5})
    episodes = [toy_episode(i) for i in range(8)]
    assert holdout_episodes(range(8), 0.25, 3) == [4, 5]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        vid = train_vlm(cfg, 'dataset-toy', store, progress=False, episodes=episodes)
    return cfg, store, vid, episodes


def test_bev_clip_trains_saves_and_scores_through_clip_scorer(bev_clip):
    "The smallest size, trained a few steps, is an open_clip checkpoint that ClipScorer loads by `label.checkpoint` alone."
    import torch
    from vlsafe.label import make_scorer
    from vlsafe.vlm import vlm_checkpoint
    cfg, store, vid, episodes = bev_clip
    ck = vlm_checkpoint(vid, store)
    saved = torch.load(ck, weights_only=True)
    assert saved['model_name'] == 'bev-clip-xs' and saved['provenance']['trained_here'] is True
    assert saved['provenance']['heldout_episodes'] == [4, 5] and saved['provenance']['dataset'] == 'dataset-toy'
    # label.model stays at its default: the checkpoint names its model
    sc = make_scorer(get_config('smoke', {'label.checkpoint': str(ck)}).label)
    assert isinstance(sc, ClipScorer) and sc.identity['model'] == 'bev-clip-xs' and not sc.identity['random_weights']
    assert len(sc.identity['checkpoint_sha256']) == 64 and sc.identity['provenance']['vlm'] == vid
    p = sc.score_frames(episodes[0].bev)
    assert p.shape == (len(episodes[0].bev),) and ((0 <= p) & (p <= 1)).all()


def test_bev_clip_labels_differ_from_oracle_and_random_and_rank_crashes(bev_clip):
    """Labelling with the trained checkpoint gives labels unlike the oracle's and a random model's; on the held-out
    episodes the frames before a crash score lower than the safe frames."""
    import warnings
    from vlsafe.label import TINY_CLIP
    from vlsafe.vlm import unsafe_within, vlm_checkpoint
    cfg, store, vid, episodes = bev_clip
    def labels(**ov):
        c = get_config('smoke', {'label.oracle_horizon': 5, **ov})
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            lid = label_dataset(c, 'dataset-toy', store, progress=False, episodes=episodes)
        return lid, load_labels(lid, store, dataset_id='dataset-toy')
    lid, p = labels(**{'label.checkpoint': str(vlm_checkpoint(vid, store))})
    _, p_or = labels(**{'label.scorer': 'oracle'})
    _, p_rand = labels(**{'label.model': TINY_CLIP, 'label.pretrained': 'random'})
    assert store.manifest('labels', lid)['scorer']['model'] == 'bev-clip-xs'
    flat = lambda d: np.concatenate([d[i] for i in sorted(d)])
    assert np.abs(flat(p) - flat(p_or)).max() > 0.3 and np.abs(flat(p) - flat(p_rand)).max() > 0.3
    held = np.concatenate([p[4], p[5]]); unsafe = np.concatenate([unsafe_within(episodes[i].infos, 5) for i in (4, 5)])
    assert unsafe.sum() == 6 and held[~unsafe].mean() - held[unsafe].mean() > 0.3, (held[~unsafe].mean(), held[unsafe].mean())

def test_bad_checkpoint_fails_in_one_line_before_any_work(tmp_path, capsys):
    "A damaged weights file is named in a one-line error before the dataset is read or a progress bar is drawn."
    from vlsafe.label import WeightsUnavailable
    bad = tmp_path / 'weights.bin'; bad.write_bytes(b'not a state dict')
    cfg = get_config('smoke', {'label.scorer': 'clip', 'label.checkpoint': str(bad)})
    store = Store(tmp_path / 'store')
    with pytest.raises(WeightsUnavailable) as e:
        label_dataset(cfg, 'dataset-missing', store, progress=True, episodes=[])   # no dataset: it must fail first
    msg = str(e.value)
    assert str(bad) in msg and '\n' not in msg and len(msg) < 1200
    assert 'label (' not in capsys.readouterr().err                                # no bar was started
    assert not (tmp_path / 'store' / 'labels').exists()                            # nothing written
