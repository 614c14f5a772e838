"""The domain of oncall-access: who may have what access, when, and on whose word.

Nothing here performs I/O or imports a framework; adapters implement the ports in `core.ports`.
"""
