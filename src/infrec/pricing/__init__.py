"""Prices from outside: reading the AWS Price List into a user's catalog file (`infrec catalog refresh`).

The parsing is pure and lives in `infrec.core.pricelist`; this package holds only the boto3 calls
and the file writing, so `core` stays free of I/O.
"""
