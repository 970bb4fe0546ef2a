"""Evaluation: CLEF's clinical linear-probe benchmark, its baselines and zero-shot prompts."""
