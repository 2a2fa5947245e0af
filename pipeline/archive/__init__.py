"""WARC output: the records of each exchange, the files they go in, and their upload."""
