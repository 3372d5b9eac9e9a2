"""Art from a convolutional network: texture synthesis and style transfer (Gatys, Ecker & Bethge), by hand.

- ``config.py``: the ``art.*`` keys (neural-style's options) with their ranges.
- ``images.py``: pictures in and out, the built-in photographs, colour transfer.
- ``layers.py``: feature networks as hand-written layers with a forward tape and a backward walk.
- ``random_net.py``: the default network, random filters at six scales (Ustyuzhaninov et al. 2016).
- ``vgg19.py``: VGG-19 from a local torchvision state_dict.
- ``networks.py``: the network a config names.  ``memory.py``: refusing a size that cannot fit.
- ``objective.py``: the loss and its image gradient, by hand; the same in plain PyTorch for the check.
- ``synthesize.py``: L-BFGS / Adam on the pixels, coarse to fine.  ``run.py``: run folder and ``stylize``.
- ``command.py``: ``train.py art``.
"""

from .run import stylize

__all__ = ["stylize"]
