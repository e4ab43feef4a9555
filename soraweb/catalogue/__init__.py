"""The model catalogue: the only place that knows what a video model accepts.

Plain Python (no Django) so the app, the importer and tests share it; the simulator, an
outside relay, reads only its data files (``presets.json``). Modules: ``schema`` (typed
parameters, parsing), ``rules`` (checking a pick, rules across fields), ``pricing``, ``wire``
(the body each wire format receives), ``presets`` and ``io`` (JSON import / export).
"""
