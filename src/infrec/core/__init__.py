"""infrec.core"""
