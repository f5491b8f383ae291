"""Every file the exporter writes: the model directory (graph.json + weights/<name>.npy,
format "kiln" v1, docs/FORMAT.md) and the CLI's reference input.npy / output.npy in it.

The directory is written as Kiln's C++ writer writes it (loaders/atomic_write.h): every
file into a temporary folder beside DIR (.DIR.kiln-tmp-PID-XXXXXX: the same filesystem,
and the PID tells a dead writer's leftover from a live one), each file and folder
fsynced, which then replaces DIR in one step (renameat2 RENAME_EXCHANGE; two renames
where the filesystem cannot), after which the old DIR is deleted. A failed or killed
export leaves DIR exactly as it was; the next one removes what a killed one left."""

import ctypes
import errno
import io
import json
import os
import re
import secrets
import shutil

import numpy as np

from .errors import ExportError

FORMAT_VERSION = 1
TEMP_TAG = ".kiln-tmp-"
MAX_GRAPH_JSON_BYTES = 64 << 20  # as Kiln's loader (kMaxGraphJsonBytes)


def model_graph(inputs, outputs, params, nodes):
    """graph.json as a dict; `params` maps each parameter name to its tensor, in the
    order they are listed, and each is stored at weights/<name>.npy."""
    param_entries = []
    for name, t in params.items():
        param_entries.append({"name": name, "dtype": "float32", "shape": list(t.shape),
                              "file": f"weights/{name}.npy"})
    return {"format": "kiln", "version": FORMAT_VERSION, "inputs": inputs,
            "outputs": outputs, "params": param_entries, "nodes": nodes}


def write_model(out_dir, graph, params, extra_arrays=None):
    """Replaces out_dir whole with graph.json, weights/*.npy (the tensors of `params`, by
    name) and NAME for each NAME: array of `extra_arrays`; creates out_dir if missing.
    On any failure out_dir is left exactly as it was."""
    files = {p["file"]: npy_bytes(params[p["name"]].detach().cpu().contiguous().numpy())
             for p in graph["params"]}
    files.update({name: npy_bytes(a) for name, a in (extra_arrays or {}).items()})
    files["graph.json"] = graph_json_text(graph).encode()
    replace_dir(out_dir, files)


def graph_json_text(graph):
    """graph.json with one line per input, output, param and node: readable and diffable."""
    lines = ["{", f'"format": "kiln", "version": {FORMAT_VERSION},']
    keys = ["inputs", "outputs", "params", "nodes"]
    for i, key in enumerate(keys):
        items = [json.dumps(item) for item in graph[key]]
        body = ",\n  ".join(items)
        end = "," if i + 1 < len(keys) else ""
        lines.append(f'"{key}": [\n  {body}\n]{end}' if items else f'"{key}": []{end}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def is_model_dir(path):
    """graph.json says it is Kiln's: format "kiln" and an integer version (any)."""
    try:
        with open(os.path.join(path, "graph.json"), "rb") as f:
            doc = json.loads(f.read(MAX_GRAPH_JSON_BYTES + 1))
    except (OSError, ValueError, RecursionError):
        return False
    return (isinstance(doc, dict) and doc.get("format") == "kiln"
            and type(doc.get("version")) is int)


def refuse_foreign(out_dir):
    """Refuses a folder of the user's: neither missing, empty, nor a Kiln model directory."""
    if not os.path.isdir(out_dir) or is_model_dir(out_dir):
        return
    names = sorted(n + "/" if os.path.isdir(os.path.join(out_dir, n))
                   else n + " of another format" if n == "graph.json" else n
                   for n in os.listdir(out_dir))
    if names:
        holds = ", ".join(names[:5]) + (f", and {len(names) - 5} more" if len(names) > 5 else "")
        raise ExportError(f"{out_dir}: not a Kiln model directory (holds {holds}); "
                          "pass --force to replace it")


def replace_dir(out_dir, files):
    """Writes `files` ({relative path: bytes}) as a new directory that replaces out_dir
    whole; on any failure out_dir is left exactly as it was and the temporary removed."""
    target = os.path.abspath(out_dir)
    if os.path.islink(target):  # the link stays; the folder it points to is replaced
        target = os.path.realpath(target)
    existed = os.path.lexists(target)
    if existed and not os.path.isdir(target):
        raise ExportError(f"{out_dir}: exists and is not a directory")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    _remove_leftovers(target)
    tmp = old = None
    try:
        tmp = _make_temp(target, lambda p: os.mkdir(p, 0o777))
        for rel, data in files.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            _write_new_file(os.path.join(tmp, rel), data)
        for root, dirs, _ in os.walk(tmp):
            for d in dirs:
                _fsync_dir(os.path.join(root, d))
        _fsync_dir(tmp)
        if existed:
            old = _swap_dir(tmp, target)
        else:
            os.rename(tmp, target)
    except BaseException as e:  # KeyboardInterrupt too: the temporary goes
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if not isinstance(e, (OSError, ExportError)):
            raise
        what = str(e)
        if isinstance(e, OSError) and e.filename:
            rename = f"cannot rename it to {e.filename2}: " if e.filename2 else ""
            what = f"{e.filename}: {rename}{e.strerror}"
        kept = "not replaced, left as it was" if existed else "not written"
        raise ExportError(f"{out_dir}: {kept}: {what}") from e
    _fsync_dir(os.path.dirname(target))
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)  # if it stays, the next export removes it


def _temp_prefix(target):
    return "." + os.path.basename(target) + TEMP_TAG


def _make_temp(target, create):
    """A new temporary path beside `target`, made by create(path) (which raises
    FileExistsError on a clash)."""
    for _ in range(100):
        path = os.path.join(os.path.dirname(target),
                            f"{_temp_prefix(target)}{os.getpid()}-{secrets.token_hex(3)}")
        try:
            create(path)
            return path
        except FileExistsError:
            continue
    raise ExportError(f"{os.path.dirname(target)}: cannot find a free temporary name")


def _remove_leftovers(target):
    """Removes the temporaries of `target` whose writer's process is gone."""
    prefix = _temp_prefix(target)
    for name in os.listdir(os.path.dirname(target)):
        m = re.fullmatch(re.escape(prefix) + r"([0-9]{1,9})-.*", name, re.S)
        if not m or int(m.group(1)) == 0:
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(os.path.dirname(target), name), ignore_errors=True)
        except PermissionError:  # someone else's process, alive
            pass


def _write_new_file(path, data):
    """Writes bytes to a new file (never over one), fsyncs and closes it. os.write keeps
    the errno of a failure (numpy's tofile says only how many bytes it wrote)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError as e:
        os.close(fd)
        raise ExportError(f"{path}: write failed: {e.strerror}") from e
    os.close(fd)


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno != errno.EINVAL:  # a filesystem that does not sync directories
            raise
    finally:
        os.close(fd)


def _exchange(a, b):
    """Swaps two paths in one step (Linux renameat2); False where it cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS):
        return False
    raise OSError(err, os.strerror(err), a, None, b)


def _swap_dir(tmp, target):
    """Puts the directory tmp in place of the directory target; returns where the old went."""
    if _exchange(tmp, target):
        return tmp
    # A crash between these two renames leaves target missing and the old one aside.
    aside = _make_temp(target, lambda p: os.mkdir(p, 0o777))
    os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except OSError:
        os.rename(aside, target)
        raise
    return aside
