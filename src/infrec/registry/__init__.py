"""infrec.registry"""
