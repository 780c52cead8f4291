"""One exception type for every bad input the user can fix; the CLI prints it as one line."""


class PipelineError(Exception):
    """A user-facing error: the message names the file (or option) and what is wrong with it."""

    def one_line(self) -> str:
        """The message as the CLI prints it: one line, whatever text from a library it quotes."""
        return " ".join(line.strip() for line in str(self).splitlines() if line.strip())


def brief(value: object, limit: int = 40) -> str:
    """A short description of an untrusted value for an error message: never the repr of the whole object
    (a deeply nested or self-similar object makes repr recurse or grow without bound)."""
    if isinstance(value, str):
        return repr(value[:limit]) + ("..." if len(value) > limit else "")
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)[:limit]
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        return f"a {type(value).__name__} of shape {shape}"[:limit * 2]
    return f"a {type(value).__name__}"


def exception_line(exc: BaseException, limit: int = 100) -> str:
    """`Type: first line of the message`, cut at `limit` characters (library messages run to several lines)."""
    text = (str(exc).splitlines() or [""])[0]
    return f"{exc.__class__.__name__}: {text[:limit]}" if text else exc.__class__.__name__


def check_choice(key: str, value: str, valid: tuple[str, ...]) -> None:
    """A config value that must be one of a few names: the one-line error lists them."""
    if value not in valid:
        raise PipelineError(f"{key}: {value!r} is not one of {', '.join(valid)}")
