"""The project's error type: a mistake the user can fix, shown as one line by the scripts."""


class LyricsError(ValueError):
    """A corpus, config, checkpoint or data problem; the message names it and how to fix it."""

    exit_status = 2


class Stopped(LyricsError):
    """Training stopped from outside (SIGTERM, as schedulers, `timeout` and containers stop a job): the
    message says where to resume from; the exit status is a signalled process's, 128 + 15."""

    exit_status = 143
