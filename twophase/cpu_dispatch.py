"""One instruction-set level and one intra-op thread for the CPU kernels, so that a run gives the
same bits on every x86-64 machine.

The CPU libraries the runs use pick their kernels by the processor they find: torch's own
vectorised kernels (``ATEN_CPU_CAPABILITY``: default / avx2 / avx512), oneDNN's convolutions
(``ONEDNN_MAX_CPU_ISA``), MKL's matrix products (``MKL_CBWR``, conditional numerical
reproducibility), numba's compiled solver (``NUMBA_CPU_NAME``: the host CPU, or a named one),
NumPy's dispatched loops (``NPY_ENABLE_CPU_FEATURES``) and the OpenBLAS that NumPy and SciPy
bundle (built for every processor and choosing at load: ``OPENBLAS_CORETYPE``). Two machines
that differ only in AVX2 or AVX-512 then sum in a different order and train different weights:
measured on this project's smoke LeNet, each of the three torch settings alone changes the
trained weights.

:func:`pin` sets every one of them to a level that every x86-64-v2 processor (SSE4.2, 2009 on)
runs identically: :data:`PORTABLE`. It runs when ``twophase`` is imported, before torch, numba or
NumPy pick their kernels, and overrides what the environment says, unless
``TWOPHASE_CPU_DISPATCH=native`` (the environment, and so the libraries' own choice per
machine, is then left as it is: faster on wide vector units, bits tied to the machine).
:func:`record` states what is in force; it is stored with every checkpoint, rewards and
interactions file (``runtime``) and printed on the book's introduction. A resume under another
dispatch is refused like one under another thread count.

**Threads.** How many threads share a reduction decides its order too, so two machines with
different core counts train different weights: measured on the quick profile, dgcnn-primitives
ends at 94 % test accuracy with one intra-op thread and at 85 % with two, lenet-digits at a
training loss of 0.080 against 0.130. :data:`THREADS` pins torch's (OpenMP) and MKL's intra-op
threads to one per process. Parallel work goes to processes instead (the book's ``-j``,
``twophase run --executor local --jobs``) and to the solver's thread pool
(:func:`twophase.interactions.exact.default_workers`), neither of which changes a bit. On two
cores, two runs at one thread each finish sooner than one after the other at two threads
(torch's second thread gains 1.3-1.6x on these small networks).

Limits: a library imported and used *before* ``twophase`` keeps what it picked (the record then
shows torch's actual capability and thread count, and a resume checks the count separately:
:mod:`twophase.pipeline.train`); ARM machines are not covered.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata

__all__ = ["MODE_VARIABLE", "PORTABLE", "mode", "pin", "record"]

#: The variable that chooses the mode: ``portable`` (the default) or ``native``.
MODE_VARIABLE = "TWOPHASE_CPU_DISPATCH"
MODES = ("portable", "native")

#: The portable level of each library, by the environment variable that sets it.
PORTABLE = {
    "ATEN_CPU_CAPABILITY": "default",  # torch: the non-vectorised-ISA kernels
    "ONEDNN_MAX_CPU_ISA": "SSE41",  # oneDNN convolutions: SSE4.1 code paths
    "MKL_CBWR": "COMPATIBLE",  # MKL: the same results on all Intel-compatible processors
    "NUMBA_CPU_NAME": "generic",  # numba: code for a generic x86-64, not the host CPU
    "OPENBLAS_CORETYPE": "Nehalem",  # NumPy's and SciPy's OpenBLAS: SSE4.2 kernels
}
#: One intra-op thread per process (module docstring, **Threads**).
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
#: NumPy >= 2.4 names its x86-64-v2 baseline ``X86_V2``; enabling only it turns off the
#: AVX2 / AVX-512 loops. Older NumPy does not know the name (and refuses to import with it).
NUMPY_VARIABLE, NUMPY_LEVEL, NUMPY_SINCE = "NPY_ENABLE_CPU_FEATURES", "X86_V2", (2, 4)


def mode() -> str:
    """``portable`` or ``native`` from :data:`MODE_VARIABLE` (unset or empty: portable)."""
    value = os.environ.get(MODE_VARIABLE, "").strip().lower() or "portable"
    if value not in MODES:
        raise ValueError(f"{MODE_VARIABLE}={value!r} is not a dispatch mode; valid: "
                         f"{', '.join(MODES)}")
    return value


def _numpy_knows_level() -> bool:
    try:
        parts = metadata.version("numpy").split(".")[:2]
        return tuple(int(p) for p in parts) >= NUMPY_SINCE
    except (metadata.PackageNotFoundError, ValueError):
        return False


def settings() -> dict[str, str]:
    """The variables :func:`pin` sets in the portable mode (NumPy's only where it knows the
    level)."""
    out = {**PORTABLE, **THREADS}
    if _numpy_knows_level():
        out[NUMPY_VARIABLE] = NUMPY_LEVEL
    return out


def pin() -> str:
    """Set :func:`settings` in ``os.environ`` unless the mode is ``native``; returns the mode.

    An unknown mode is treated as ``portable`` here (the import must not fail); :func:`record`
    then raises with the valid values.  A torch imported before ``twophase`` has read its thread
    count already: it is set to one here (``torch.set_num_threads``), so a notebook that imports
    torch first computes the same bits; its kernel level is chosen at its first operation and
    still follows :data:`PORTABLE` (:func:`record` reports what torch actually uses).
    """
    try:
        chosen = mode()
    except ValueError:
        chosen = "portable"
    if chosen == "portable":
        os.environ.update(settings())
        torch = sys.modules.get("torch")
        if torch is not None and hasattr(torch, "set_num_threads"):
            torch.set_num_threads(int(THREADS["OMP_NUM_THREADS"]))
    return chosen


def record() -> dict[str, str]:
    """What is in force: the mode, every variable of :func:`settings` (``""`` when unset) and,
    when torch is loaded, the capability its kernels actually dispatch to (``torch_capability``)
    and its intra-op thread count (``torch_threads``).
    """
    out = {"mode": mode()}
    out.update({k: os.environ.get(k, "") for k in (*PORTABLE, *THREADS, NUMPY_VARIABLE)})
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_capability"] = str(torch.backends.cpu.get_cpu_capability())
        out["torch_threads"] = str(torch.get_num_threads())
    return out
