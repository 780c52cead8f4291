"""One exception type for every bad input the user can fix; the CLI prints it as one line."""


class PipelineError(Exception):
    """A user-facing error: the message names the file (or option) and what is wrong with it."""
