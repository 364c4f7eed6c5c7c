"""The notebooks run under nbval as a person runs them: nothing here changes what a cell does.

The one difference from a person's JupyterLab is the environment: the target is the sandbox
whatever the developer's shell or ``.env`` says, so the stored outputs stay comparable and no
real key is used. The forms' buttons are clicked by ``tests/test_notebooks_driven.py``.
"""

from __future__ import annotations

import os

for _name in [n for n in os.environ if n.startswith("STRIPE_")]:
    del os.environ[_name]
