"""lumos.tools.traces"""
