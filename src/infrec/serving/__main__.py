"""`python -m infrec.serving`: start the model server (master plus workers), or — for the built-in
LLM images: `infrec/llmsim` (the OpenAI-compatible simulator, which has its own event loop),
`infrec/llamacpp` (llama-cpp-python's server, run from the engine's own environment) and `infrec/vllm`
(vLLM's OpenAI server on the instance's GPUs)."""

import os

if __name__ == "__main__":
    image = os.environ.get("INFREC_IMAGE", "").split("@", 1)[0].split(":", 1)[0]
    if image == "infrec/llmsim":
        from infrec.serving.llmsim import main as llmsim_main

        raise SystemExit(llmsim_main([]))
    if image == "infrec/llamacpp":
        from infrec.serving.llamacpp import main as llamacpp_main

        raise SystemExit(llamacpp_main())
    if image == "infrec/vllm":
        from infrec.serving.vllm import main as vllm_main

        raise SystemExit(vllm_main())
    from infrec.serving.master import main

    raise SystemExit(main())
