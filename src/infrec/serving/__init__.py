"""infrec's built-in model server: SageMaker's container contract in its own process.

Run it with `python -m infrec.serving`. It reads only its environment (SAGEMAKER_BIND_TO_PORT,
SAGEMAKER_MODEL_SERVER_WORKERS, SAGEMAKER_MODEL_SERVER_TIMEOUT, SM_MODEL_DIR, INFREC_IMAGE, ...)
and imports nothing of infrec's control plane, so an endpoint starts fast and stays small.
"""
