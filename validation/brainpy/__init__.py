"""BrainPy 2.9's tutorial network against refsim (``validation/brainpy/README.md``).

``tutorial``, ``run_brainpy``, ``export_fixture``, ``time_tutorial`` and ``check_xla_expm1`` run
in the BrainPy environment (Python 3.12, ``validation.peer_pythons.BRAINPY_PYTHON``), which
has no refsim: this package imports nothing. ``compare_brainpy`` and ``variants`` run in
refsim's environment; ``export_seed_digests`` in any Python with NumPy.
"""
