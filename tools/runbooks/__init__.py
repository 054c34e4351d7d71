"""lumos.tools.runbooks"""
