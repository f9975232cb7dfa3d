"""The application layer: sweeps of scenario keys, run folders, the Python API."""
