"""infrec: a self-hosted inference recommender that speaks SageMaker's API."""

__version__ = "0.1.0"
