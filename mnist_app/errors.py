"""Error types. Every failure a user can cause is a MnistAppError with a one-line message
naming the file and the problem; the command-line layer prints it and exits 1."""


class MnistAppError(Exception):
    """Base class: a clear, expected failure (bad input, missing file, network trouble)."""


class DownloadError(MnistAppError):
    """MNIST could not be fetched or verified from any mirror."""


class DataError(MnistAppError):
    """An IDX file is malformed (bad magic, truncated, inconsistent counts, bad labels)."""


class CheckpointError(MnistAppError):
    """A checkpoint or model file is missing, corrupt, truncated or of the wrong shape."""


class ImageError(MnistAppError):
    """A user's image cannot be read or holds no digit."""


class OutputError(MnistAppError):
    """A result (checkpoint, history, plot) cannot be written where it was asked to go."""


class BusyError(MnistAppError):
    """A folder is in use by another process (e.g. two trainings into one model directory)."""


class TrainingError(MnistAppError):
    """Training cannot go on (it diverged) or has nothing to do."""
