"""A local relay that speaks every wire format soraweb uses, with fault injection.

``soraweb.simulator.server.Simulator`` is plain Python (no Django); ``manage.py runsimulator``
and ``python -m soraweb.simulator.cli`` run it. README.md describes the modules.
"""
