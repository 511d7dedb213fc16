"""infrec.web"""
