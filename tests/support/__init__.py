"""What the tests share: a client for the contract's calls, a carrier on the mock
clock, real webhook receivers and a DNS server, carriers in subprocesses, a private
PostgreSQL cluster, log capture, raw HTTP, and an RFC 9162 verifier written from the
RFC. Fixtures among them are registered once, in tests/conftest.py (``pytest_plugins``).
"""
