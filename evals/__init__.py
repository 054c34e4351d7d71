"""lumos.evals"""
