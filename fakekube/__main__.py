"""``python -m fakekube``: the same as the ``fakekube`` command."""

from fakekube.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
