#!/usr/bin/env python
"""Train the document's logistic regression: ``python train.py [--config PATH] [key=value ...]``.

``python train.py --help`` lists the options; ``python train.py predict --help`` the predict command.
"""

import sys

if __name__ == "__main__":
    try:
        from torch_logreg.cli import main
    except KeyboardInterrupt:  # Ctrl-C before the command line could take over: still one line
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(main())
