# cython: boundscheck=False, wraparound=False, cdivision=True
"""The reading side in C: a block split into its lines, and a chunk of lines decoded.

split_block answers exactly as ingest/source.py's _split_block, decode_clean as
ingest/pipeline.py's _decode_clean.

One call splits a whole block (1 MiB) into its RawLines with memchr, so that reading costs
per block, not per line, in Python. ingest/source.py's _split_block is the reference
(tests/test_fastread.py compares them on hostile and random input).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from cpython.list cimport PyList_Append
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memchr


cdef extern from "Python.h":
    # a NamedTuple's instances are tuples of its type: allocated as tuple.__new__ would
    object PyType_GenericAlloc(type t, Py_ssize_t nitems)


cdef object _zero = 0


cdef inline object _line(type cls, Py_ssize_t offset, object data, Py_ssize_t end, object overlong):
    cdef object a = offset
    cdef object c = end
    cdef object t = PyType_GenericAlloc(cls, 4)
    Py_INCREF(a)
    PyTuple_SET_ITEM(t, 0, a)
    Py_INCREF(data)
    PyTuple_SET_ITEM(t, 1, data)
    Py_INCREF(c)
    PyTuple_SET_ITEM(t, 2, c)
    Py_INCREF(overlong)
    PyTuple_SET_ITEM(t, 3, overlong)
    return t


def split_block(type cls, bytes chunk not None, Py_ssize_t offset, Py_ssize_t skipped, dict heads not None,
                Py_ssize_t ignore_at, Py_ssize_t max_line):
    """(lines, offset, carry, skipped, boundary): see ingest.source._split_block."""
    cdef const char* base = PyBytes_AS_STRING(chunk)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(chunk)
    cdef Py_ssize_t start = 0, stop, n, total
    cdef const char* nl
    cdef list lines = []
    cdef object data
    cdef PyObject* found
    cdef Py_ssize_t shortest = -1, longest = -1, k
    if heads:
        for key in heads:
            k = len(key)
            if shortest < 0 or k < shortest:
                shortest = k
            if k > longest:
                longest = k
    nl = <const char*>memchr(base, 10, size)
    if nl != NULL and skipped:  # the overlong line ends in this block
        stop = nl - base
        total = stop + skipped + 1
        data = PyBytes_FromStringAndSize(base, stop if stop < max_line else max_line)
        PyList_Append(lines, _line(cls, offset, data, offset + total, total - 1 - max_line))
        offset += total
        skipped = 0
        start = stop + 1
        nl = <const char*>memchr(base + start, 10, size - start)
    while nl != NULL:
        stop = nl - base
        n = stop - start + 1
        if n <= max_line + 1:
            data = PyBytes_FromStringAndSize(base + start, n - 1)
            if shortest <= n - 1 <= longest and offset and offset != ignore_at:
                found = PyDict_GetItem(heads, data)
                if found != NULL:
                    return lines, offset, b"", 0, (offset, <object>found)
            PyList_Append(lines, _line(cls, offset, data, offset + n, _zero))
        else:
            data = PyBytes_FromStringAndSize(base + start, max_line)
            PyList_Append(lines, _line(cls, offset, data, offset + n, n - 1 - max_line))
        offset += n
        start = stop + 1
        nl = <const char*>memchr(base + start, 10, size - start)
    n = size - start  # the unterminated end: the carry
    if n > max_line:  # keep the head of an overlong line, not all of it
        skipped += n - max_line
        n = max_line
    if start == 0 and n == size:
        return lines, offset, chunk, skipped, None
    return lines, offset, PyBytes_FromStringAndSize(base + start, n), skipped, None


def decode_clean(list chunk not None):
    """The lines' data as text, or None when any line is overlong, holds a NUL or is not
    valid UTF-8: see ingest.pipeline._decode_clean, the reference."""
    cdef list texts = []
    cdef object line, data
    cdef const char* at
    cdef Py_ssize_t size
    for line in chunk:
        if not isinstance(line, tuple) or len(<tuple>line) != 4:  # read below without bounds checks
            raise TypeError(f"a line is a RawLine, not {type(line).__name__}")
        if (<tuple>line)[3]:
            return None
        data = (<tuple>line)[1]
        if not isinstance(data, bytes):
            raise TypeError(f"a line's data is bytes, not {type(data).__name__}")
        at = PyBytes_AS_STRING(data)
        size = PyBytes_GET_SIZE(data)
        if memchr(at, 0, size) != NULL:
            return None
        try:
            texts.append(PyUnicode_DecodeUTF8(at, size, NULL))
        except UnicodeDecodeError:
            return None
    return texts
