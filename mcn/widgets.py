"""The interactive views under their first name: ``mcn.widgets`` is ``mcn.viz``.

Chapter 12 and earlier notebooks import the views as ``from mcn import widgets``; every
name lives in ``mcn.viz`` (one view per module) and is listed here again. Taught in
chapter 12.
"""

from mcn.viz import *  # noqa: F401,F403
from mcn.viz import __all__  # noqa: F401
