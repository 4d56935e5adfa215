"""Pure domain logic: data types, geometry, signal processing, event rules and scoring.

Nothing here performs I/O or imports a framework; NumPy and SciPy are the only numeric
dependencies. The same functions run on the edge (streaming) and in the cloud (batch).
"""
