"""Errors a user can cause or meet; their messages are shown as they are."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class DatasetMissing(FileNotFoundError):
    """A dataset's files are not where matchlab looked; the message says where and how to get it."""
