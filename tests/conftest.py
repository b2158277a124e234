"""Test-wide settings.

Unit tests work on small tensors, where PyTorch's intra-op threads cost more than they
save (and two threads fight over CI's two cores with the notebook kernels and DDP
workers that some tests start): one thread makes the suite faster and steadier.
"""

import torch

torch.set_num_threads(1)
