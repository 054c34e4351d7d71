"""lumos.tools.metrics"""
