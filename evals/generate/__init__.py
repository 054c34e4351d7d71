"""lumos.evals.generate"""
