"""A local relay that speaks every wire format soraweb uses, with fault injection.

``soraweb.simulator.server`` is plain Python (no Django); ``manage.py runsimulator`` wraps it.
"""
