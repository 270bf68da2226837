"""Errors a user can cause or meet; their messages are shown as they are."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class DatasetMissing(FileNotFoundError):
    """A dataset's files are not where matchlab looked; the message says where and how to get it."""


class CheckpointMismatch(RuntimeError):
    """A checkpoint in the output folder was written by a different run (another spec or run
    identity); it is never resumed, and the message says whose it is."""
