"""lumos.tools.topology"""
