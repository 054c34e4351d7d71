"""lumos.tools.logs"""
