"""Test-wide settings.

Unit tests work on small tensors, where PyTorch's intra-op threads cost more than they
save (and two threads fight over CI's two cores with the notebook kernels and DDP
workers that some tests start): one thread makes the suite faster and bit-for-bit
repeatable. The fixture puts it back after every test, because some code under test
(the CLI's --threads, the benchmarks) changes the thread count.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(1)
