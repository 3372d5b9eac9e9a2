#!/usr/bin/env python
"""Train the document's logistic regression: ``python train.py [--config PATH] [key=value ...]``.

``python train.py --help`` lists the options; ``python train.py predict --help`` the predict command.
"""

import sys

from torch_logreg.cli import main

if __name__ == "__main__":
    sys.exit(main())
