"""``python -m mcn ...`` (and ``torchrun -m mcn train ...``) run the ``mcn`` command line."""

from mcn.cli import main

if __name__ == "__main__":
    main()
