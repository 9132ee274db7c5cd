"""`make bench`: each module here measures one journey beside a baseline from the same run.

A module exposes `run() -> None` and prints its own figures. Not part of CI: it times things.
"""
