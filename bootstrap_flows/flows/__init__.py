"""The flows users deploy: `bootstrap` (bootstrap.py) and `teardown` (teardown.py).

`stages` holds one task per stage; `summary` the final artifact. drift-check lives in `drift/`.
"""
