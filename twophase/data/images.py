"""Image datasets held in memory as uint8 and pre-processed on access.

Pre-processing of a ``uint8`` image ``u`` of shape ``(C, H0, W0)``:

    x = resize(u / 255, (size, size))          # bilinear, antialiased when shrinking
    x[c] = (x[c] - mean[c]) / std[c]           # per channel, when normalising

Single items go through the same code as the vectorised batch path
(:meth:`InMemoryImageDataset.gather_inputs`), so ``to_tensors`` is exact and fast on CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from twophase.data.base import DatasetInfo, Modality, as_targets


def preprocess_images(
    images: torch.Tensor,
    size: int | None,
    mean: Sequence[float],
    std: Sequence[float],
    channels: int | None = None,
) -> torch.Tensor:
    """Scale ``uint8 (N, C, H, W)`` images to float, resize, optionally repeat channels, normalise.

    Args:
        images: ``uint8`` or float tensor ``(N, C, H0, W0)``; uint8 is divided by 255.
        size: output side length (square); ``None`` keeps the input size.
        mean, std: per-channel statistics (length C or 1); empty sequences skip normalisation.
        channels: if given and the input has 1 channel, repeat it to this many channels.

    Returns:
        ``float32 (N, C', size, size)``.
    """
    x = images.to(torch.float32)
    if images.dtype == torch.uint8:
        x = x / 255.0
    if size is not None and (x.shape[-2] != size or x.shape[-1] != size):
        shrinking = size < x.shape[-2] or size < x.shape[-1]
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=shrinking)
    if mean:
        m = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
        s = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
        x = (x - m) / s
    if channels is not None and x.shape[1] == 1 and channels != 1:
        x = x.expand(-1, channels, -1, -1).contiguous()
    return x


class InMemoryImageDataset(Dataset):
    """Images stored as one ``uint8 (N, C, H0, W0)`` tensor plus integer targets.

    ``dataset[i]`` returns ``(FloatTensor (C, size, size), int)``; see the module docstring for
    the pre-processing. ``gather_inputs(indices)`` returns the pre-processed batch
    ``(len(indices), C, size, size)`` in one vectorised call.
    """

    def __init__(
        self,
        images: torch.Tensor,
        targets: Sequence[int] | torch.Tensor,
        info: DatasetInfo,
        *,
        size: int | None = None,
        normalize: bool = True,
        channels: int | None = None,
    ):
        if images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
        self.images = images
        self.targets = as_targets(targets)
        if len(self.targets) != images.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {len(self.targets)} targets")
        self.size = size
        self.channels = channels
        self._mean = tuple(info.mean) if normalize else ()
        self._std = tuple(info.std) if normalize else ()
        c = images.shape[1] if channels is None or images.shape[1] != 1 else channels
        h = size if size is not None else images.shape[-2]
        w = size if size is not None else images.shape[-1]
        if not normalize:
            info = replace(info, mean=(), std=())
        self.info = replace(info, modality=Modality.IMAGE, input_shape=(c, h, w), channels=c)

    def __len__(self) -> int:
        return self.images.shape[0]

    def gather_inputs(self, indices: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Pre-processed images for ``indices``: ``float32 (len(indices), C, H, W)``."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return preprocess_images(self.images[idx], self.size, self._mean, self._std, self.channels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.gather_inputs([int(index)])[0]
        return x, int(self.targets[index])

    def __repr__(self) -> str:
        split = self.info.split.value if self.info.split else None
        return (f"{type(self).__name__}(name={self.info.name.value!r}, split={split!r}, "
                f"n={len(self)}, shape={self.info.input_shape})")


def load_image_file(
    path: str | Path,
    size: int | None,
    box: tuple[float, float, float, float] | None = None,
) -> torch.Tensor:
    """Decode an image file with PIL, convert to RGB, crop, resize: ``uint8 (3, size, size)``.

    Args:
        path: image file (JPEG, PNG, ...).
        size: output side length (bilinear); ``None`` keeps the (cropped) size.
        box: ``(x, y, width, height)`` in pixels (CUB's ``bounding_boxes.txt`` convention);
            clipped to the image.
    """
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        if box is not None:
            x, y, w, h = box
            left, top = max(0, int(round(x))), max(0, int(round(y)))
            right = min(im.width, max(left + 1, int(round(x + w))))
            bottom = min(im.height, max(top + 1, int(round(y + h))))
            im = im.crop((left, top, right, bottom))
        if size is not None and im.size != (size, size):
            im = im.resize((size, size), Image.Resampling.BILINEAR)
        arr = np.asarray(im, dtype=np.uint8).copy()
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


class FileImageDataset(Dataset):
    """Images read lazily from files (optionally cropped to a box), resized and normalised.

    ``dataset[i]`` decodes ``paths[i]`` with PIL, crops to ``boxes[i]`` (``(x, y, w, h)``) if
    given, resizes to ``(size, size)``, scales to [0, 1] and normalises with ``info.mean/std``:
    ``(FloatTensor (3, size, size), int)``. With ``cache=True`` the decoded ``uint8`` images are
    kept in memory after the first access.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        targets: Sequence[int] | torch.Tensor,
        info: DatasetInfo,
        *,
        size: int,
        boxes: Sequence[tuple[float, float, float, float]] | None = None,
        normalize: bool = True,
        cache: bool = False,
    ):
        self.paths = [Path(p) for p in paths]
        self.targets = as_targets(targets)
        if len(self.paths) != len(self.targets):
            raise ValueError(f"{len(self.paths)} paths but {len(self.targets)} targets")
        if boxes is not None and len(boxes) != len(self.paths):
            raise ValueError(f"{len(boxes)} boxes but {len(self.paths)} paths")
        self.boxes = list(boxes) if boxes is not None else None
        self.size = size
        self._mean = tuple(info.mean) if normalize else ()
        self._std = tuple(info.std) if normalize else ()
        if not normalize:
            info = replace(info, mean=(), std=())
        self.info = replace(info, modality=Modality.IMAGE, input_shape=(3, size, size), channels=3)
        self._cache: dict[int, torch.Tensor] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.paths)

    def raw_image(self, index: int) -> torch.Tensor:
        """The cropped, resized ``uint8 (3, size, size)`` image before normalisation."""
        index = int(index)
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        box = self.boxes[index] if self.boxes is not None else None
        img = load_image_file(self.paths[index], self.size, box)
        if self._cache is not None:
            self._cache[index] = img
        return img

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = preprocess_images(self.raw_image(index)[None], None, self._mean, self._std)[0]
        return x, int(self.targets[index])

    def __repr__(self) -> str:
        split = self.info.split.value if self.info.split else None
        return (f"{type(self).__name__}(name={self.info.name.value!r}, split={split!r}, "
                f"n={len(self)}, shape={self.info.input_shape})")
