"""Generative-AI recommendations (issue 14): AI workload configs, benchmark and recommendation jobs."""
