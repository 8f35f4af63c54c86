"""The public map (twophase/__init__.py): every name resolves, and `import twophase` is light."""

import subprocess
import sys

import twophase


def test_every_public_name_resolves_to_its_module():
    for name in twophase.__all__:
        obj = getattr(twophase, name)
        module = getattr(obj, "__module__", "") or ""
        assert module.startswith("twophase"), (name, module)
    assert twophase.claims.run_claims is twophase.run_claims
    assert set(twophase._SUBPACKAGES) <= set(dir(twophase))


def test_import_twophase_loads_no_torch():
    code = "import sys, twophase; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
