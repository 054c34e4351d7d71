"""lumos.tools"""
