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


MAX_SEED = 2**63 - 1  # seeds are stored as HDF5 int64 attributes; gymnasium takes non-negative ones


def check_seed(key: str, seed: int, span: int = 1) -> None:
    """A seed whose `span` consecutive seeds from `seed` are all valid (non-negative, storable)."""
    if seed < 0 or seed + span - 1 > MAX_SEED:
        raise PipelineError(f"{key}: {seed} is out of range; seeds run from 0 to {MAX_SEED}"
                            + (f" (this one and the next {span - 1})" if span > 1 else ""))


MAX_IMAGE_SIZE = 4096  # one frame is one HDF5 chunk, which must stay under 4 GB; no encoder sees more than 518 px


def check_image_size(key: str, size: int) -> None:
    if not 0 < size <= MAX_IMAGE_SIZE:
        raise PipelineError(f"{key} must be between 1 and {MAX_IMAGE_SIZE} pixels, got {size}")


def require_finite(where: str, **fields: "object") -> None:
    """Refuse NaN or infinity in any of the named arrays (None: absent), naming the first bad field and its first
    bad row: an imported demo's `+inf` action was once clipped to 1.0 without a word."""
    import numpy as np

    for name, values in fields.items():
        if values is None:
            continue
        array = np.asarray(values)
        bad = ~np.isfinite(array)
        if bad.any():
            row = int(np.argwhere(bad)[0][0]) if array.ndim else 0
            raise PipelineError(f"{where}: {name} holds {array[bad].flat[0]} (row {row}); every value must be finite")


def user_error_line(exc: BaseException) -> str | None:
    """The one line to print for an error the user can fix (None: a bug, let its traceback show): a PipelineError,
    and the operating system's refusals of a path (too long, no space, no permission, read-only, not UTF-8)."""
    import errno
    import os
    import re

    if isinstance(exc, PipelineError):
        return exc.one_line()
    if isinstance(exc, UnicodeEncodeError) and exc.encoding in ("utf-8", "ascii"):
        return f"a path or name is not valid UTF-8 ({brief(exc.object[exc.start:exc.end + 8])})"
    if isinstance(exc, OSError) and exc.errno in (errno.ENAMETOOLONG, errno.ENOSPC, errno.EDQUOT, errno.EACCES,
                                                  errno.EROFS):
        where = exc.filename
        if where is None:  # HDF5 names the file inside its message only
            match = re.search(r"filename = '([^']*)'", str(exc))
            where = match.group(1) if match else None
        line = f"{brief(str(where), 120) if where else 'output'}: {exc.strerror or os.strerror(exc.errno)}"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) and where:
            line += f" ({free_bytes(str(where)) / 1e6:.1f} MB free there)"
        return line
    return None


def free_bytes(path: str) -> int:
    """Free bytes on the disk that holds `path` (or would hold it: its nearest existing folder)."""
    import os
    import shutil

    folder = os.path.dirname(os.path.abspath(path))
    while folder and not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    return shutil.disk_usage(folder).free
