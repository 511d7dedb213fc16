"""infrec.vpc"""
