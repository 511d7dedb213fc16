"""`python -m infrec.serving`: start the model server (master plus workers)."""

from infrec.serving.master import main

if __name__ == "__main__":
    raise SystemExit(main())
