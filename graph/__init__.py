"""lumos.graph"""
