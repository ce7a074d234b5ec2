"The world model's GPU path: prefetched batches through pinned memory, bf16 autocast where CUDA has it, held-out quality on the device."
import math
import numpy as np
import pytest


def _episodes(n=4, T=30):
    from vlsafe.data import Episode
    from vlsafe.world_model import synthetic_batch
    out = []
    for i in range(n):
        b = synthetic_batch(1, T + 1, 32, seed=i)
        col = np.zeros(T + 1, bool); col[-1] = i == 0
        out.append(Episode(id=i, policy='expert', bev=b['image'][0], actions=b['action'][0, :T], rewards=b['reward'][0, 1:],
                           costs=col[1:].astype(np.float32), terminated=i == 0, truncated=i != 0, infos={'collision': col}))
    return out


@pytest.mark.gpu
def test_fit_prefetch_autocast_and_quality_on_cuda(tmp_path):
    import torch
    from vlsafe.config import WorldModelConfig
    from vlsafe.data import SequenceSampler
    from vlsafe.nets import resolve_precision
    from vlsafe.world_model import Prefetch, WorldModel, fit, quality_gate, wm_quality
    torch.manual_seed(0)
    cfg = WorldModelConfig(image_size=32, deter=32, units=32, stoch=4, classes=4, layers=1, cnn_depth=4, bins=31, lr=1e-3,
                           steps=6, log_every=2, ckpt_every=3)
    eps = _episodes()
    labels = {e.id: np.full(len(e.bev), 0.9, np.float32) for e in eps}
    wm = WorldModel(cfg, 15).to('cuda')
    batches = Prefetch(SequenceSampler(eps[1:], 4, 8, seed=0, labels=labels), 'cuda')
    batch = next(batches)
    assert batches.pin and all(v.device.type == 'cuda' for v in batch.values())
    batches.load_state_dict(batches.state_dict())           # back to before that batch, as a resume would
    precision = resolve_precision('auto', 'cuda')
    assert precision == ('bf16' if torch.cuda.is_bf16_supported() else 'fp32')
    try: last = fit(wm, batches, tmp_path, progress=False, tensorboard=False, precision=precision)
    finally: batches.close()
    assert math.isfinite(last['loss']) and torch.load(tmp_path / 'ckpt.pt', weights_only=True)['step'] == 6
    q = wm_quality(wm, eps[:2], labels, k=4, horizon=5, windows=8)
    assert 0 <= q['cost_auroc'] <= 1 and len(q['open_loop']['mse_model']) == 5
    assert isinstance(quality_gate(q)[0], bool)
