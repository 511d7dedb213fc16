"""infrec.executors"""
