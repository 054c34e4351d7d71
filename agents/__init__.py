"""lumos.agents"""
