"""Generative-AI recommendations: AI workload configs, benchmark and recommendation jobs."""
