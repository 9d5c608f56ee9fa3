"""What S3's answers mean, with no I/O: the one code table, its classifier, and diagnoses.

The lowest package of the library: it imports nothing of it, and everything may import it.
"""
