"""A hand-written C loop of refsim's step (``coba.c``) and its runner (``validation/c_loop/README.md``)."""
