"""lumos.app"""
