"""infrec.loadgen"""
