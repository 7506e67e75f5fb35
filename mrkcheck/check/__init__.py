"""The engines: compile, explicit search, symmetry, liveness, Z3 (BMC, induction, cutoff).

:class:`mrkcheck.check.checker.Checker` is the one way callers check a model; results are data
(:mod:`.result`), rendered as text by :mod:`.report`."""
