"""The kernel manager of the book's papermill runs: encrypted transport, quiet shutdown.

Two lines ipykernel 7 writes to the terminal on every notebook are fixed where they come from:

- ``Kernel is running over TCP without encryption`` (``ipykernel.kernelapp``): jupyter_client
  starts kernels on TCP with ``transport_encryption = "disabled"`` by default.
  :class:`BookKernelManager` asks for ``"auto"``: the manager provisions CurveZMQ keys when the
  kernelspec declares ``supported_encryption: curve`` (ipykernel 7's spec does) and pyzmq has
  Curve; without Curve it uses the IPC transport (Unix sockets) on POSIX, which never leaves the
  machine.
- ``KeyboardInterrupt caught in kernel`` (``ipykernel.kernelbase``/``eventloops``):
  ``KernelManager.shutdown_kernel`` interrupts the kernel (SIGINT) before it asks it to shut
  down, and an idle kernel logs that interrupt. When papermill shuts a kernel down, every cell has
  finished (or failed, or timed out, and nbclient already interrupted it), so
  :class:`BookKernelManager` skips that interrupt and only sends the shutdown request, which
  ipykernel answers on its control channel; a kernel that does not stop is still killed after
  ``shutdown_wait_time``.

papermill passes the class to nbclient: ``execute_notebook(...,
kernel_manager_class=KERNEL_MANAGER)``.
"""

from __future__ import annotations

import os

import zmq
from jupyter_client import AsyncKernelManager
from traitlets import default

__all__ = ["KERNEL_MANAGER", "BookKernelManager"]

#: import path of :class:`BookKernelManager` (nbclient's ``kernel_manager_class`` option)
KERNEL_MANAGER = "twophase.book.kernel.BookKernelManager"


class BookKernelManager(AsyncKernelManager):
    """:class:`AsyncKernelManager` with an encrypted (or local IPC) transport and a shutdown
    without a SIGINT (see the module docstring)."""

    @default("transport_encryption")
    def _default_transport_encryption(self) -> str:
        return "auto" if zmq.has("curve") else "disabled"

    @default("transport")
    def _default_transport(self) -> str:
        return "tcp" if zmq.has("curve") or os.name != "posix" else "ipc"

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:  # papermill's kernel is done: the shutdown request suffices
            return
        await super()._async_interrupt_kernel()
