"""mcn: Mask-CornerNet (Yang, Fan and Guo, 2020), the package behind the book.

Subpackages: ``mcn.nn`` (layers), ``mcn.models`` (the detector and its presets),
``mcn.data`` (synthetic and TT100K traffic signs), plus ``mcn.targets``,
``mcn.losses``, ``mcn.decode`` and ``mcn.evaluate``.
"""

__version__ = "0.1.0"
