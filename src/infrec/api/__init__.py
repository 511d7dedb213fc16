"""infrec.api"""
