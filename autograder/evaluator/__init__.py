"""The trusted evaluator: hidden tests run here, outside the student's kernel.

- :mod:`.remote` — :class:`RemoteFunction`, a stand-in for a notebook function that asks the
  kernel to call it on the evaluator's inputs and decodes the reply as plain data.
- :mod:`.static_check` — the "do not call ``F.conv2d``" rule, read from the student's source.
- :mod:`.runner` — runs one test cell's hidden block with remote functions and turns the
  outcome into the cell's output (a pass, or the failure with its tag).

The kernel only ever receives inputs and returns outputs: the seed, the references, the
comparison and the score stay in this process.
"""
