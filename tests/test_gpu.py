"The GPU path: a tiny world-model update runs on a CUDA device (skipped without one; see conftest.py)."
import math
import pytest


@pytest.mark.gpu
def test_world_model_update_runs_on_cuda():
    import torch
    from vlsafe.config import WorldModelConfig
    from vlsafe.world_model import WorldModel, synthetic_batch
    torch.manual_seed(0)
    cfg = WorldModelConfig(image_size=32, deter=32, units=32, stoch=4, classes=4, layers=1, cnn_depth=4, bins=31, lr=1e-3)
    wm = WorldModel(cfg, 15).to('cuda')
    opt = wm.make_optimizer()
    before = [p.detach().clone() for p in wm.parameters()]
    metrics, post = wm.update(synthetic_batch(B=2, L=6, size=32), opt)      # numpy in: the model moves it to its device
    assert wm.device.type == 'cuda' and wm.feat(post).device.type == 'cuda'
    assert math.isfinite(metrics['loss']) and math.isfinite(metrics['grad_norm'])
    assert all(p.device.type == 'cuda' for p in wm.parameters())
    assert any(not torch.equal(b, p) for b, p in zip(before, wm.parameters()))   # the step changed weights on the GPU
