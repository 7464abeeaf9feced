# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Event rows to PostgreSQL's COPY BINARY format, many rows a call (ingest/sink.py's fast path).

The compiled twin of the binary COPY in ingest/sink.py (psycopg's `write_row` with the
sink's dumpers), which stays the reference: for every value this writes the bytes that
path sends, and a value that path cannot encode raises here too (an int out of its
column's range, a str with a lone surrogate, an IP inet_pton refuses, a value of another
type), so that the sink writes the batch again as text and PostgreSQL judges it.
tests/test_fastcopy.py compares what PostgreSQL holds after either.

The stream (PostgreSQL's "Binary Format" of COPY): HEADER, then per row an int16 field
count and per field an int32 length (-1: NULL) and that many bytes of the value in the
type's binary form, big-endian; then TRAILER.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.datetime cimport (
    PyDelta_Check,
    import_datetime,
    timedelta_days,
    timedelta_microseconds,
    timedelta_seconds,
)
from cpython.long cimport PyLong_Check
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.number cimport PyNumber_Index, PyNumber_Subtract
from cpython.unicode cimport PyUnicode_AsUTF8String, PyUnicode_Check
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memchr, memcpy

from datetime import datetime, timezone

cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    long long PyLong_AsLongLongAndOverflow(object, int *) except? -1
    bint PyTuple_CheckExact(object)
    Py_ssize_t PyTuple_GET_SIZE(object)
    void *PyTuple_GET_ITEM(object, Py_ssize_t)
    Py_ssize_t PyList_GET_SIZE(object)

cdef extern from "arpa/inet.h" nogil:
    int inet_pton(int af, const char *src, void *dst)

cdef extern from "sys/socket.h" nogil:
    int AF_INET
    int AF_INET6

import_datetime()

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # signature, flags, no extension
TRAILER = b"\xff\xff"  # a field count of -1

# the column types this encodes (names as ingest/sink.py's EVENT_TYPES has them)
cdef enum Kind:
    K_TIMESTAMPTZ, K_TEXT, K_INET, K_INT4, K_INT8
KINDS = {"timestamptz": K_TIMESTAMPTZ, "text": K_TEXT, "inet": K_INET, "int4": K_INT4, "int8": K_INT8}
DEF MAX_COLUMNS = 64

# psycopg's binary timestamptz: microseconds since this instant
cdef object EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
cdef const char *INET4_HEAD = b"\x02\x20\x00\x04"  # family (PGSQL_AF_INET), bits, is_cidr, length
cdef const char *INET6_HEAD = b"\x03\x80\x00\x10"  # PGSQL_AF_INET6 = AF_INET + 1


cdef struct Buffer:
    char *data
    Py_ssize_t size
    Py_ssize_t room


cdef int grow(Buffer *buf, Py_ssize_t more) except -1:
    cdef Py_ssize_t room = buf.room or 4096
    cdef char *data
    while room - buf.size < more:
        room *= 2
    data = <char *>PyMem_Realloc(buf.data, room)
    if data is NULL:
        raise MemoryError()
    buf.data, buf.room = data, room
    return 0


cdef inline int put16(Buffer *buf, int value) except -1:
    if buf.room - buf.size < 2:
        grow(buf, 2)
    cdef unsigned char *p = <unsigned char *>buf.data + buf.size
    p[0] = (value >> 8) & 0xFF
    p[1] = value & 0xFF
    buf.size += 2
    return 0


cdef inline void write32(unsigned char *p, long long value) noexcept:
    p[0] = (value >> 24) & 0xFF
    p[1] = (value >> 16) & 0xFF
    p[2] = (value >> 8) & 0xFF
    p[3] = value & 0xFF


cdef inline int put32(Buffer *buf, long long value) except -1:
    if buf.room - buf.size < 4:
        grow(buf, 4)
    write32(<unsigned char *>buf.data + buf.size, value)
    buf.size += 4
    return 0


cdef inline int put_field(Buffer *buf, const char *data, Py_ssize_t size) except -1:
    """A field: its int32 length, then its bytes."""
    if size > 0x7FFFFFFF:
        raise ValueError(f"a value of {size:,} bytes is longer than COPY can carry")
    if buf.room - buf.size < size + 4:
        grow(buf, size + 4)
    write32(<unsigned char *>buf.data + buf.size, size)
    memcpy(buf.data + buf.size + 4, data, size)
    buf.size += size + 4
    return 0


cdef inline int put_int(Buffer *buf, long long value, int width) except -1:
    """An int4 or int8 field, big-endian."""
    cdef unsigned char *p
    cdef uint64_t bits = <uint64_t>value
    cdef int i
    if buf.room - buf.size < 4 + width:
        grow(buf, 4 + width)
    p = <unsigned char *>buf.data + buf.size
    write32(p, width)
    for i in range(width):
        p[4 + i] = (bits >> (8 * (width - 1 - i))) & 0xFF
    buf.size += 4 + width
    return 0


cdef long long as_int(object value, long long low, long long high) except? -1:
    """An int in [low, high], as struct.pack('!i'/'!q') takes it (int, bool, __index__), or raise."""
    cdef int overflow = 0
    cdef long long n
    if not PyLong_Check(value):
        value = PyNumber_Index(value)  # TypeError for a float, a str, …: struct refuses them too
    n = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow or n < low or n > high:
        raise OverflowError(f"{value} is out of range for this integer column")
    return n


cdef int put_text(Buffer *buf, object value) except -1:
    """A str as UTF-8 (a NUL goes as it is: PostgreSQL refuses it, as from psycopg)."""
    if not PyUnicode_Check(value):
        raise TypeError(f"expected str, got {type(value).__name__}")
    if PyUnicode_IS_COMPACT_ASCII(value):
        return put_field(buf, <const char *>PyUnicode_DATA(value), PyUnicode_GET_LENGTH(value))
    utf8 = PyUnicode_AsUTF8String(value)  # UnicodeEncodeError on a lone surrogate
    return put_field(buf, PyBytes_AS_STRING(utf8), PyBytes_GET_SIZE(utf8))


cdef int put_inet(Buffer *buf, object value) except -1:
    """An IP in text (as the parser leaves it) in inet's binary form, as socket.inet_pton reads it."""
    cdef const char *text
    cdef Py_ssize_t size
    cdef unsigned char address[16]
    cdef unsigned char *p
    cdef bint v6
    if not PyUnicode_Check(value):
        raise TypeError(f"expected str, got {type(value).__name__}")
    if PyUnicode_IS_COMPACT_ASCII(value):
        text, size = <const char *>PyUnicode_DATA(value), PyUnicode_GET_LENGTH(value)
    else:
        utf8 = PyUnicode_AsUTF8String(value)
        text, size = PyBytes_AS_STRING(utf8), PyBytes_GET_SIZE(utf8)
    if memchr(text, 0, size) is not NULL:
        raise ValueError("embedded null character")  # socket.inet_pton's refusal
    v6 = memchr(text, 58, size) is not NULL  # ":"
    if inet_pton(AF_INET6 if v6 else AF_INET, text, address) != 1:
        raise OSError(f"illegal IP address string: {value!r}")
    if buf.room - buf.size < 24:
        grow(buf, 24)
    p = <unsigned char *>buf.data + buf.size
    write32(p, 20 if v6 else 8)
    memcpy(p + 4, INET6_HEAD if v6 else INET4_HEAD, 4)
    memcpy(p + 8, address, 16 if v6 else 4)
    buf.size += 24 if v6 else 12
    return 0


# One buffer for every call, kept: a new one of this size each call came back from the kernel
# as fresh pages to fault in and clear (15 % of the time). A call made while another is in it
# (only if a value's own __sub__ or __index__ runs Python that calls this again) takes its own.
cdef Buffer shared
cdef bint shared_busy = False


def encode(rows: list, types: tuple, Py_ssize_t start, Py_ssize_t limit) -> tuple:
    """(data, next): rows[start:next] in COPY BINARY form, without HEADER and TRAILER; next is
    the first row after `limit` bytes (at least one row is taken) or len(rows)."""
    global shared_busy
    cdef Py_ssize_t ncols = len(types), i, col
    cdef Kind kinds[MAX_COLUMNS]
    cdef Buffer own
    cdef Buffer *buf
    cdef bint mine = not shared_busy
    cdef object last_ts = None  # the log's lines share a datetime object within a second
    cdef long long last_us = 0
    cdef object row, value, delta
    if ncols > MAX_COLUMNS:
        raise ValueError(f"at most {MAX_COLUMNS} columns")
    for col in range(ncols):
        kinds[col] = KINDS[types[col]]
    if mine:
        buf = &shared
        shared_busy = True
    else:
        own.data, own.room = NULL, 0
        buf = &own
    buf.size = 0
    try:
        if buf.room < limit + 4096:
            grow(buf, limit + 4096)
        i = start
        # len(rows) each time, and a tuple of every row: Python a value runs (its __index__)
        # may change the list, and a tuple cannot change under the loop
        while i < PyList_GET_SIZE(rows) and (buf.size < limit or i == start):
            row = rows[i]
            if not PyTuple_CheckExact(row):
                row = tuple(row)
            if PyTuple_GET_SIZE(row) != ncols:
                raise ValueError(f"a row of {PyTuple_GET_SIZE(row)} values for {ncols} columns")
            put16(buf, ncols)
            for col in range(ncols):
                value = <object>PyTuple_GET_ITEM(row, col)
                if value is None:
                    put32(buf, -1)
                elif kinds[col] == K_TEXT:
                    put_text(buf, value)
                elif kinds[col] == K_TIMESTAMPTZ:
                    if value is not last_ts:
                        delta = PyNumber_Subtract(value, EPOCH)  # psycopg's way: TypeError if naive
                        if not PyDelta_Check(delta):
                            raise TypeError(f"expected datetime, got {type(value).__name__}")
                        last_us = (
                            (timedelta_days(delta) * <long long>86400 + timedelta_seconds(delta)) * 1000000
                            + timedelta_microseconds(delta)
                        )
                        last_ts = value
                    put_int(buf, last_us, 8)
                elif kinds[col] == K_INT4:
                    put_int(buf, as_int(value, -0x80000000, 0x7FFFFFFF), 4)
                elif kinds[col] == K_INT8:
                    put_int(buf, as_int(value, -0x7FFFFFFFFFFFFFFF - 1, 0x7FFFFFFFFFFFFFFF), 8)
                else:
                    put_inet(buf, value)
            i += 1
        return PyBytes_FromStringAndSize(buf.data, buf.size), i
    finally:
        if mine:
            shared_busy = False
            if shared.room > 4 * (limit + 4096):  # a huge row made it grow: give that back
                PyMem_Free(shared.data)
                shared.data, shared.room = NULL, 0
        else:
            PyMem_Free(own.data)
