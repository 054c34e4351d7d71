"""lumos.tools.actions"""
