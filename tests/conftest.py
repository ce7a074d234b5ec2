"The `gpu` mark: such tests run where torch sees a CUDA device and are skipped, with that reason, elsewhere."
import pytest


def pytest_configure(config):
    config.addinivalue_line('markers', 'gpu: needs a CUDA GPU; skipped where torch.cuda.is_available() is False')


def pytest_collection_modifyitems(config, items):
    gpu = [item for item in items if item.get_closest_marker('gpu')]
    if not gpu: return
    import torch                                    # only when a gpu test was collected: torch takes seconds to import
    if torch.cuda.is_available(): return
    skip = pytest.mark.skip(reason='needs a CUDA GPU: torch.cuda.is_available() is False on this machine')
    for item in gpu: item.add_marker(skip)
