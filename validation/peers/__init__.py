"""Brian2 and NEST on exactly refsim's network (``validation/peers/README.md``).

``export_network`` and ``compare`` run in refsim's environment; ``brian2_run`` and ``nest_run``
in the peer environment (Python 3.13, ``validation.peer_pythons.PEER_PYTHON``), which has no
refsim: this package imports nothing, and ``network_file`` reads the exported file with NumPy
alone.
"""
