"""The book's kernel manager (twophase.book.kernel): encrypted transport, shutdown without the
SIGINT that made ipykernel log "KeyboardInterrupt caught in kernel"."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import zmq
from jupyter_client import AsyncKernelManager

from twophase.book.kernel import KERNEL_MANAGER, BookKernelManager

ROOT = Path(__file__).resolve().parents[2]


def test_transport_defaults():
    km = BookKernelManager(kernel_name="python3")
    if zmq.has("curve"):
        assert (km.transport, km.transport_encryption) == ("tcp", "auto")
    else:
        assert km.transport == "ipc" or sys.platform == "win32"
    assert KERNEL_MANAGER == f"{BookKernelManager.__module__}.{BookKernelManager.__name__}"


@pytest.mark.book
def test_the_kernel_is_encrypted_and_shut_down_without_an_interrupt(monkeypatch):
    calls = []
    original = AsyncKernelManager._async_interrupt_kernel

    async def record(self):
        calls.append(self.shutting_down)
        await original(self)

    monkeypatch.setattr(AsyncKernelManager, "_async_interrupt_kernel", record)
    km = BookKernelManager(kernel_name="python3")
    async def cycle():
        await km.start_kernel()
        info = km.get_connection_info()
        await km.shutdown_kernel()
        return info

    info = asyncio.run(cycle())
    if zmq.has("curve"):
        assert info.get("curve_publickey")  # the manager provisioned keys
    assert calls == []  # no SIGINT on shutdown
    assert not km.has_kernel


@pytest.mark.book
def test_papermill_runs_print_no_kernel_warnings(tmp_path):
    code = ("import papermill, nbformat\n"
            "from nbformat.v4 import new_notebook, new_code_cell\n"
            "nb = new_notebook(cells=[new_code_cell('x = 1')], metadata={'kernelspec': "
            "{'name': 'python3', 'display_name': 'P', 'language': 'python'}})\n"
            f"nbformat.write(nb, {str(tmp_path / 'in.ipynb')!r})\n"
            f"papermill.execute_notebook({str(tmp_path / 'in.ipynb')!r}, "
            f"{str(tmp_path / 'out.ipynb')!r}, kernel_name='python3', progress_bar=False, "
            f"kernel_manager_class={KERNEL_MANAGER!r})\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert "without encryption" not in done.stderr and "KeyboardInterrupt" not in done.stderr
