"""`python -m infrec.serving`: start the model server (master plus workers), or — for the built-in
LLM image `infrec/llmsim` — the OpenAI-compatible simulator, which has its own event loop."""

import os

if __name__ == "__main__":
    if os.environ.get("INFREC_IMAGE", "").split("@", 1)[0].split(":", 1)[0] == "infrec/llmsim":
        from infrec.serving.llmsim import main as llmsim_main

        raise SystemExit(llmsim_main([]))
    from infrec.serving.master import main

    raise SystemExit(main())
