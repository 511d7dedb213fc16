"""infrec.store"""
