"""infrec.report"""
