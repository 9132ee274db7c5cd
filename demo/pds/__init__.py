"""The local PDS server (`python -m demo.pds.server`) for the demo, the tests and the benchmark.
Never in the image (.dockerignore): production talks to NHS England's PDS."""
