"""infrec.serving"""
