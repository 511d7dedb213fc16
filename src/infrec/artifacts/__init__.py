"""infrec.artifacts"""
