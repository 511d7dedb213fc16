"""infrec.jobs"""
