"""Entry point: `python -m bench` runs the whole benchmark (see bench/README.md)."""

from bench.run import main

if __name__ == "__main__":
    raise SystemExit(main())
