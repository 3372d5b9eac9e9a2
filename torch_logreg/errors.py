"""The errors a user can fix: bad data, bad config, a bad checkpoint.

Each carries one line that names the problem (file, line, column, key). The
command line prints that line and exits with status 2; the Python API raises it.
"""


class UserInputError(ValueError):
    """Base class: input the user can correct."""


class UsageError(UserInputError):
    """A command-line flag that argparse rejects."""


class DataError(UserInputError):
    """A data file that cannot be used as it is."""


class ConfigError(UserInputError):
    """A config key or value that is unknown, of the wrong type, or out of range."""


class ConfigTypeError(ConfigError, TypeError):
    """A config value of the wrong type."""


class CheckpointError(UserInputError):
    """A checkpoint that is missing, corrupt or unsafe to load."""


class TrainingDiverged(RuntimeError):
    """The cost or a gradient stopped being finite."""


class TorchLogregWarning(UserWarning):
    """Base class of the warnings a run gives: filter it, or turn it into an error."""


class ConvergenceWarning(TorchLogregWarning):
    """The optimizer stopped before its convergence test was met, stalled, or the cost rose."""


class SeparationWarning(TorchLogregWarning):
    """The training rows are linearly separable: without l2 the weights grow without bound."""


class DesignWarning(TorchLogregWarning):
    """The design is singular or nearly so: constant, duplicated or linearly dependent columns."""


class IgnoredKeyWarning(TorchLogregWarning):
    """A config key that does not apply to this run."""
