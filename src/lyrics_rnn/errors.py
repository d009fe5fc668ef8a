"""The project's error type: a mistake the user can fix, shown as one line by the scripts."""


class LyricsError(ValueError):
    """A corpus, config, checkpoint or data problem; the message names it and how to fix it."""
