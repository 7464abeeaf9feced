# cython: language_level=3, boundscheck=True, wraparound=False, cdivision=True
"""The compiled fast path of Parser.parse_lines (ingest/parse.py): the same answers, in C.

A line is read here only when it is one of the stock shapes that `_BATCH` (parse.py) reads
in one step, written plainly: another program's syslog line (turned away exactly as
`Parser.parse_line` turns it away), a login, a failed sign-in, an IMAP ID before or after
login, a logout with the default statistics, or a mail_log expunge/delete/undelete/copy.
Every value is read where the regex reads it, with its character classes and lengths; a
line that strays anywhere (an unusual character in a user name, a longer number, a
non-ASCII digit, a field out of order, a value the regex would have to backtrack over) is
handed to `Parser.parse_line`, in its place in the chunk, so that the year inference sees
the lines in order. So this module never decides a hard case: it only answers, faster,
the lines whose reading is unambiguous, and parse_line stays the reference that
tests/test_parse_batch.py compares it with on every corpus, real, generated, hostile and
mutated line.

All reads are bounds-checked against the line's length (`_at` gives NOCHAR past the end):
a hostile line can make this code defer, never read outside the string.
"""

from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF, PyObject
from cpython.unicode cimport (
    Py_UNICODE_ISDIGIT,
    PyUnicode_DATA,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
    PyUnicode_READ,
    PyUnicode_Substring,
)

ctypedef unsigned int uchar  # a code point, compared as a C integer

cdef extern from "Python.h":
    ctypedef struct PyTypeObject:
        pass
    PyObject *PyType_GenericAlloc(PyTypeObject *t, Py_ssize_t n) except NULL
    void _SET "PyTuple_SET_ITEM"(PyObject *p, Py_ssize_t i, PyObject *o)
    PyObject *_GET "PyTuple_GET_ITEM"(PyObject *p, Py_ssize_t i)

from ingest.event import AUTH_FAIL, CLIENT_ID, COPY, FLAG_DELETE, LOGIN, LOGOUT, MESSAGE_DELETE, UNDELETE, Event

cdef object _Event = Event
cdef str _LOGIN = LOGIN
cdef str _LOGOUT = LOGOUT
cdef str _AUTH_FAIL = AUTH_FAIL
cdef str _CLIENT_ID = CLIENT_ID
cdef str _COPY = COPY
cdef str _EXPUNGE = MESSAGE_DELETE
cdef str _DELETE = FLAG_DELETE
cdef str _UNDELETE = UNDELETE
cdef str _AUTH_FAILED = "auth failed"
cdef str _LOGGED_OUT = "Logged out"
cdef str _CONNECTION_CLOSED = "Connection closed"
cdef str _EMPTY = ""
# the protocol of a login service (parse.py _LOGIN_SERVICES)
cdef str _IMAP = "imap"
cdef str _POP3 = "pop3"
cdef str _SUBMISSION = "submission"
cdef str _SIEVE = "sieve"

cdef object DEFER = object()  # "not mine": parse_line reads the line
cdef Py_ssize_t _FIELDS = len(Event._fields)
assert _FIELDS == 26


cdef object _blank():
    """A new Event of all None, made as tuple.__new__(Event, …) makes one (tp_alloc, then the
    items), without the tuple of items that call would copy."""
    cdef PyObject *ev = PyType_GenericAlloc(<PyTypeObject *>_Event, _FIELDS)
    cdef Py_ssize_t i
    for i in range(_FIELDS):
        Py_INCREF(None)
        _SET(ev, i, <PyObject *>None)
    result = <object>ev  # a new reference…
    Py_DECREF(result)  # …of the one PyType_GenericAlloc gave: result holds it
    return result


cdef inline void _put(object ev, Py_ssize_t i, object value):
    """Item i of a new Event from _blank (not yet seen by anyone else) becomes value."""
    cdef PyObject *old = _GET(<PyObject *>ev, i)
    Py_INCREF(value)
    _SET(<PyObject *>ev, i, <PyObject *>value)
    Py_XDECREF(old)


cdef object _head(object ts, object host, str proto, str kind, object account, object ip, object session,
                  object pid):
    """A new Event with its first eight fields (the rest None)."""
    ev = _blank()
    _put(ev, 0, ts)
    _put(ev, 1, host)
    _put(ev, 2, proto)
    _put(ev, 3, kind)
    _put(ev, 4, account)
    if ip is not None:
        _put(ev, 5, ip)
    if session is not None:
        _put(ev, 6, session)
    if pid is not None:
        _put(ev, 7, pid)
    return ev


cdef object _with_tail(object ev, tuple tail):
    """ev with the fields after pid from tail (an ID's: 14 None and the 4 client fields)."""
    cdef Py_ssize_t i
    for i in range(len(tail)):
        if tail[i] is not None:
            _put(ev, 8 + i, tail[i])
    return ev

cdef uchar NOCHAR = 0x110000  # past the end of the line: no character is this


cdef struct Line:
    int kind
    void *data
    Py_ssize_t n


cdef inline uchar _at(Line *L, Py_ssize_t i) noexcept:
    if i < 0 or i >= L.n:
        return NOCHAR
    return <uchar>PyUnicode_READ(L.kind, L.data, i)


cdef inline Py_ssize_t _lit(Line *L, Py_ssize_t i, const char *s) noexcept:
    """The index after ASCII literal s read at i, or -1."""
    cdef Py_ssize_t k = 0
    while s[k] != 0:
        if _at(L, i + k) != <uchar>s[k]:
            return -1
        k += 1
    return i + k


cdef inline bint _digit(uchar c) noexcept:
    return 48 <= c <= 57


cdef inline Py_ssize_t _digits(Line *L, Py_ssize_t i, int most) noexcept:
    """The end of a run of 1..most ASCII digits at i, or -1 (none, more, or a Unicode digit
    right after: the regex's \\d would read on where this stops)."""
    cdef Py_ssize_t j = i
    cdef uchar c
    while _digit(_at(L, j)):
        j += 1
    if j == i or j - i > most:
        return -1
    c = _at(L, j)
    if c != NOCHAR and c > 127 and Py_UNICODE_ISDIGIT(<Py_UCS4>c):
        return -1
    return j


cdef inline long long _number(Line *L, Py_ssize_t i, Py_ssize_t j) noexcept:
    cdef long long v = 0
    while i < j:
        v = v * 10 + <long long>(_at(L, i) - 48)
        i += 1
    return v


cdef inline Py_ssize_t _num_after(Line *L, Py_ssize_t q, const char *lit, int most, Py_ssize_t *start) noexcept:
    """ASCII literal lit at q, then 1..most digits: their end, with their start in *start;
    or -1."""
    q = _lit(L, q, lit)
    if q < 0:
        return -1
    start[0] = q
    return _digits(L, q, most)


cdef inline Py_ssize_t _rip_lip(Line *L, Py_ssize_t q, Py_ssize_t *r0, Py_ssize_t *r1) noexcept:
    """`IP, lip=IP` at q (the rip `[0-9A-Fa-f.:]{2,45}`, as _IPCHARS): its end, with the rip's
    bounds in *r0 and *r1; or -1."""
    r0[0] = q
    while _ipchar(_at(L, q)):
        q += 1
    r1[0] = q
    if q - r0[0] < 2 or q - r0[0] > 45:
        return -1
    q = _lit(L, q, ", lip=")
    if q < 0:
        return -1
    while _ipchar(_at(L, q)):
        q += 1
    return q


cdef inline Py_ssize_t _tls(Line *L, Py_ssize_t q) noexcept:
    """After an optional `, TLS` or `, secured` at q."""
    cdef Py_ssize_t t = _lit(L, q, ", TLS")
    if t < 0:
        t = _lit(L, q, ", secured")
    return q if t < 0 else t


cdef inline Py_ssize_t _session(Line *L, Py_ssize_t q, Py_ssize_t *s0, Py_ssize_t *s1) noexcept:
    """`, session=<S>` at q (S `[A-Za-z0-9+/]*`): its end, with S's bounds in *s0, *s1; or -1."""
    q = _lit(L, q, ", session=<")
    if q < 0:
        return -1
    s0[0] = q
    while _b64(_at(L, q)):
        q += 1
    s1[0] = q
    return q + 1 if _at(L, q) == 62 else -1


cdef inline bint _upper(uchar c) noexcept:
    return 65 <= c <= 90


cdef inline bint _lower(uchar c) noexcept:
    return 97 <= c <= 122


cdef inline bint _alnum(uchar c) noexcept:
    return _upper(c) or _lower(c) or _digit(c)


cdef inline bint _ipchar(uchar c) noexcept:  # [0-9A-Fa-f.:]
    return _digit(c) or 65 <= c <= 70 or 97 <= c <= 102 or c == 46 or c == 58


cdef inline bint _b64(uchar c) noexcept:  # [A-Za-z0-9+/]
    return _alnum(c) or c == 43 or c == 47


cdef inline Py_ssize_t _find(Line *L, Py_ssize_t i, uchar c) noexcept:
    while i < L.n:
        if <uchar>PyUnicode_READ(L.kind, L.data, i) == c:
            return i
        i += 1
    return -1


cdef inline Py_ssize_t _find_lit(Line *L, Py_ssize_t i, const char *s) noexcept:
    """The first index >= i where ASCII literal s starts, or -1."""
    cdef uchar first = <uchar>s[0]
    while True:
        i = _find(L, i, first)
        if i < 0 or _lit(L, i, s) >= 0:
            return i
        i += 1


cdef class FastParser:
    """Parser.parse_lines for one Parser: its caches and its clock, read as the regex path
    reads them (parse.py), in the same order."""

    cdef object parser
    cdef object parse_line
    cdef dict ips
    cdef object valid_ip
    cdef object clock
    cdef dict cache
    cdef object yearless
    cdef object iso
    cdef dict texts
    cdef object id_tail
    cdef str last_stamp  # the syslog stamp of the last event: its hash is computed once

    def __init__(self, parser):
        self.parser = parser
        self.parse_line = parser.parse_line
        self.ips = parser._ips
        self.valid_ip = parser._valid_ip
        self.clock = parser._clock
        self.cache = self.clock._cache
        self.yearless = parser._yearless
        self.iso = self.clock.iso
        self.texts = parser._client_texts
        self.id_tail = parser._id_tail
        self.last_stamp = None

    def parse_lines(self, list lines):
        """parse_line on each line, in order: the same answers, the same state after."""
        cdef Py_ssize_t k, count = len(lines)
        cdef list out = [None] * count
        cdef object line, result
        for k in range(count):
            line = lines[k]
            if type(line) is not str:
                result = DEFER
            else:
                try:
                    result = self._one(<str>line)
                except Exception:  # an answer this code cannot give: parse_line gives it
                    result = DEFER
            if result is DEFER:
                result = self.parse_line(line)
            if result is not None:
                out[k] = result
        return out

    cdef object _one(self, str line):
        cdef Line L
        cdef Py_ssize_t i, j, k, host_at, host_end, at
        cdef uchar c
        L.kind = PyUnicode_KIND(line)
        L.data = PyUnicode_DATA(line)
        L.n = PyUnicode_GET_LENGTH(line)
        cdef bint syslog
        # ---- the head, and other programs' lines, as parse_line's first checks read them
        if _at(&L, 15) == 32 and _at(&L, 9) == 58 and _at(&L, 12) == 58:  # Nov 27 06:14:15
            i = _find(&L, 16, 32)
            if i <= 16:
                return DEFER
            if _lit(&L, i + 1, "dovecot") < 0:
                c = _at(&L, 16)
                if c == 60:  # `<mail.info>`
                    return DEFER
                c = _at(&L, i - 1)
                if c == 58 or _find(&L, 16, 40) < i and _find(&L, 16, 40) >= 0:
                    return DEFER  # Dovecot's own log file: no host, no tag
                return None  # another program's syslog line
            # _ASCII_STAMP: [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}
            if not (_upper(_at(&L, 0)) and _lower(_at(&L, 1)) and _lower(_at(&L, 2)) and _at(&L, 3) == 32):
                return DEFER
            c = _at(&L, 4)
            if not (c == 32 or _digit(c)) or not _digit(_at(&L, 5)) or _at(&L, 6) != 32:
                return DEFER
            if not (_digit(_at(&L, 7)) and _digit(_at(&L, 8)) and _digit(_at(&L, 10)) and _digit(_at(&L, 11))
                    and _digit(_at(&L, 13)) and _digit(_at(&L, 14))):
                return DEFER
            syslog = True
            host_at = 16
            host_end = i
        elif _at(&L, 10) == 84 and _at(&L, 4) == 45:  # rsyslog RFC 3339
            j = _find(&L, 19, 32)
            if j <= 0:
                return DEFER
            k = _find(&L, j + 1, 32)
            if k <= j + 1:
                return DEFER
            if _lit(&L, k + 1, "dovecot") < 0:
                c = _at(&L, k - 1)
                if c != 58 and not (0 <= _find(&L, j + 1, 40) < k) and _at(&L, j + 1) != 60:
                    return None
                return DEFER
            if _iso_end(&L) != j:
                return DEFER
            syslog = False
            host_at = j + 1
            host_end = k
        else:
            return DEFER
        # ` dovecot: ` after the host (the host is `[^ ]+`: up to the first space)
        at = _lit(&L, host_end, " dovecot: ")
        if at < 0:
            return DEFER
        # ---- the service
        c = _at(&L, at)
        if c == 105:  # i
            if _lit(&L, at, "imap-login: ") >= 0:
                return self._login(line, &L, at + 12, _IMAP, syslog, host_at, host_end)
            if _lit(&L, at, "imap(") >= 0:
                return self._mail(line, &L, at + 4, _IMAP, syslog, host_at, host_end)
        elif c == 112:  # p
            if _lit(&L, at, "pop3-login: ") >= 0:
                return self._login(line, &L, at + 12, _POP3, syslog, host_at, host_end)
            if _lit(&L, at, "pop3(") >= 0:
                return self._mail(line, &L, at + 4, _POP3, syslog, host_at, host_end)
        elif c == 115:  # s
            if _lit(&L, at, "submission-login: ") >= 0:
                return self._login(line, &L, at + 18, _SUBMISSION, syslog, host_at, host_end)
        elif c == 109:  # m
            if _lit(&L, at, "managesieve-login: ") >= 0:
                return self._login(line, &L, at + 19, _SIEVE, syslog, host_at, host_end)
        elif c == 108:  # l
            if _lit(&L, at, "lmtp(") >= 0:
                return None if _lmtp_noise(&L, at + 5) else DEFER
        return DEFER

    cdef object _when(self, str line, Line *L, bint syslog, Py_ssize_t host_at):
        """The event time, as parse_lines reads it: the clock's cache, else the clock."""
        cdef object stamp, hit
        cdef Line last
        cdef Py_ssize_t k
        if syslog:
            stamp = self.last_stamp
            if stamp is not None:  # the same second as the last event: the same text
                last.kind = PyUnicode_KIND(stamp)
                last.data = PyUnicode_DATA(stamp)
                last.n = 15
                for k in range(15):
                    if _at(&last, k) != _at(L, k):
                        stamp = None
                        break
            if stamp is None:
                stamp = PyUnicode_Substring(line, 0, 15)
                self.last_stamp = stamp
            hit = self.cache.get(stamp)
            if hit is not None and hit[0] == self.clock.month:
                return hit[1]
            return self.yearless(stamp)
        return self.iso(PyUnicode_Substring(line, 0, host_at - 1))

    cdef bint _good_ip(self, object rip) except -1:
        hit = self.ips.get(rip)
        if hit:
            return True
        return bool(self.valid_ip(rip))

    # ------------------------------------------------------------------ login process
    cdef object _login(self, str line, Line *L, Py_ssize_t p, str proto, bint syslog,
                       Py_ssize_t host_at, Py_ssize_t host_end):
        cdef Py_ssize_t q, u0, u1, r0, r1, a0, a1, m0, m1, s0, s1, t0
        cdef uchar c
        cdef bint failed = False
        q = _lit(L, p, "Info: ")
        if q >= 0:
            p = q
        q = _lit(L, p, "Login: ")
        if q < 0:
            q = _lit(L, p, "Logged in: ")
        if q < 0:
            q = _lit(L, p, "ID sent: ")
            if q >= 0:
                return self._id_login(line, L, q, proto, syslog, host_at, host_end)
            # a failed sign-in: Disconnected|Aborted login|Disconnected: Word( word)*
            q = _lit(L, p, "Disconnected")
            if q >= 0:
                s0 = q
                if _at(L, q) == 58 and _at(L, q + 1) == 32:  # `Disconnected: Inactivity`
                    q += 2
                    if _upper(_at(L, q)) and _lower(_at(L, q + 1)):
                        q += 2
                        while _lower(_at(L, q)):
                            q += 1
                        while _at(L, q) == 32 and _lower(_at(L, q + 1)):
                            q += 2
                            while _lower(_at(L, q)):
                                q += 1
            else:
                q = _lit(L, p, "Aborted login")
                if q < 0:
                    return DEFER
                s0 = q
            q = _lit(L, q, " (auth failed, ")
            if q < 0:  # a connection that never tried to sign in (_NO_AUTH_NOISE)?
                return None if _no_auth(L, s0) else DEFER
            a0 = q
            a1 = _digits(L, a0, 9)
            q = _num_after(L, a1, " attempts in ", 9, &t0) if a1 >= 0 else -1
            q = _lit(L, q, " secs): user=<") if q >= 0 else -1
            if q < 0:
                return DEFER
            failed = True
        else:
            q = _lit(L, q, "user=<")
            if q < 0:
                return DEFER
        # the user: up to the first `>`; one with `>`, a newline or `(` is parse_line's
        u0 = q
        while True:
            c = _at(L, q)
            if c == 62 or c == NOCHAR:
                break
            if c == 10 or c == 40 or c == 13:
                return DEFER
            q += 1
        if c != 62 or q == u0:
            return DEFER
        u1 = q
        # >, method=[A-Za-z0-9_-]*, rip=IP{2,45}, lip=[0-9A-Fa-f.:]*
        q = _lit(L, q, ">, method=")
        if q < 0:
            return DEFER
        while _alnum(_at(L, q)) or _at(L, q) == 95 or _at(L, q) == 45:
            q += 1
        q = _lit(L, q, ", rip=")
        q = _rip_lip(L, q, &r0, &r1) if q >= 0 else -1
        if q < 0:
            return DEFER
        m0 = m1 = -1
        if not failed:
            m1 = _num_after(L, q, ", mpid=", 9, &m0)
            if m1 < 0:
                return DEFER
            q = _tls(L, m1)
        else:
            t0 = _tls(L, q)
            if t0 != q:
                q = t0
                if _at(L, q) == 58 and _at(L, q + 1) == 32:  # `, TLS: Disconnected`
                    q += 2
                    while _upper(_at(L, q)) or _lower(_at(L, q)) or _at(L, q) == 32:
                        q += 1
        s0 = s1 = -1
        t0 = _session(L, q, &s0, &s1)
        if t0 >= 0:
            q = t0
        if q != L.n:  # (a session element that is not `<S>` included)
            return DEFER
        rip = PyUnicode_Substring(line, r0, r1)
        user = PyUnicode_Substring(line, u0, u1)
        if not self._good_ip(rip):
            return DEFER
        # (parse_lines leaves a login whose user holds `(auth failed, ` to parse_line: here a
        # user with any `(` was deferred above, and the elements after it are narrower)
        ts = self._when(line, L, syslog, host_at)
        if ts is None:
            return DEFER
        host = PyUnicode_Substring(line, host_at, host_end)
        session = PyUnicode_Substring(line, s0, s1) if s1 > s0 else None
        if not failed:
            return _head(ts, host, proto, _LOGIN, user, rip, session, _number(L, m0, m1))
        ev = _head(ts, host, proto, _AUTH_FAIL, user, rip, session, None)
        _put(ev, 20, _number(L, a0, a1))
        _put(ev, 21, _AUTH_FAILED)
        return ev

    cdef object _id_login(self, str line, Line *L, Py_ssize_t p, str proto, bint syslog,
                          Py_ssize_t host_at, Py_ssize_t host_end):
        """`ID sent: TEXT: user=<>, rip=IP, lip=IP[, TLS|, secured], session=<S>` (TEXT up
        to the first `: user=<>, rip=`)."""
        cdef Py_ssize_t q, e, r0, r1, s0, s1
        e = _find_lit(L, p, ": user=<>, rip=")
        if e < 0:
            return DEFER
        q = _rip_lip(L, e + 15, &r0, &r1)
        q = _session(L, _tls(L, q), &s0, &s1) if q >= 0 else -1
        if q != L.n:
            return DEFER
        rip = PyUnicode_Substring(line, r0, r1)
        if not self._good_ip(rip):
            return DEFER
        text = PyUnicode_Substring(line, p, e)
        tail = self.texts.get(text) or self.id_tail(text)
        if tail is None:
            return DEFER
        ts = self._when(line, L, syslog, host_at)
        if ts is None:
            return DEFER
        host = PyUnicode_Substring(line, host_at, host_end)
        session = PyUnicode_Substring(line, s0, s1) if s1 > s0 else None
        return _with_tail(_head(ts, host, proto, _CLIENT_ID, _EMPTY, rip, session, None), tail)

    # ------------------------------------------------------------------ mail process
    cdef object _mail(self, str line, Line *L, Py_ssize_t p, str proto, bint syslog,
                      Py_ssize_t host_at, Py_ssize_t host_end):
        """`(user)<pid><session>: [Info: ]MESSAGE` at p (the `(`)."""
        cdef Py_ssize_t q, u0, u1, d0, d1, s0, s1, t
        cdef uchar c
        q = p + 1
        u0 = q
        while True:  # [^()]*
            c = _at(L, q)
            if c == 41 or c == 40 or c == NOCHAR:
                break
            q += 1
        if c != 41 or q == u0:  # `)` ends it; an empty user is parse_line's
            return DEFER
        u1 = q
        q = _lit(L, q, ")<")
        if q < 0:
            return DEFER
        d0 = q
        d1 = _digits(L, q, 9)
        q = _lit(L, d1, "><") if d1 >= 0 else -1
        if q < 0:
            return DEFER
        s0 = q
        while _b64(_at(L, q)):
            q += 1
        s1 = q
        q = _lit(L, q, ">: ")
        if q < 0:
            return DEFER
        t = _lit(L, q, "Info: ")
        if t >= 0:
            q = t
        c = _at(L, q)
        if c == 68:  # D
            return self._logout(line, L, q, proto, syslog, host_at, host_end, u0, u1, d0, d1, s0, s1)
        if c == 73:  # I
            t = _lit(L, q, "ID sent: ")
            if t < 0:
                return DEFER
            if _find(L, t, 10) >= 0 or _find(L, t, 13) >= 0:
                return DEFER  # `.*` stops at a newline; \r: leave line ends to parse_line
            text = PyUnicode_Substring(line, t, L.n)
            tail = self.texts.get(text) or self.id_tail(text)
            if tail is None:
                return DEFER
            ts = self._when(line, L, syslog, host_at)
            if ts is None:
                return DEFER
            ev = _head(ts, PyUnicode_Substring(line, host_at, host_end), proto, _CLIENT_ID,
                       PyUnicode_Substring(line, u0, u1), None,
                       PyUnicode_Substring(line, s0, s1) if s1 > s0 else None, _number(L, d0, d1))
            return _with_tail(ev, tail)
        return self._mail_log(line, L, q, proto, syslog, host_at, host_end, u0, u1, d0, d1, s0, s1)

    cdef object _logout(self, str line, Line *L, Py_ssize_t q, str proto, bint syslog,
                        Py_ssize_t host_at, Py_ssize_t host_end, Py_ssize_t u0, Py_ssize_t u1,
                        Py_ssize_t d0, Py_ssize_t d1, Py_ssize_t s0, Py_ssize_t s1):
        """`Disconnected: Logged out|Connection closed[ (…)] in=… out=… deleted=… expunged=…
        trashed=…[ hdr_count=…]` or `… top=t/p, retr=r/b, del=d/m, size=s`."""
        cdef Py_ssize_t t, n0, n1, o0, o1, e0, e1, x0, x1, z0, z1
        cdef uchar c
        cdef str reason
        q = _lit(L, q, "Disconnected: ")
        if q < 0:
            return DEFER
        t = _lit(L, q, "Logged out")
        if t >= 0:
            reason = _LOGGED_OUT
        else:
            t = _lit(L, q, "Connection closed")
            if t < 0:
                return DEFER
            reason = _CONNECTION_CLOSED
        q = t
        if _at(L, q) == 32 and _at(L, q + 1) == 40:  # ` (…)`: [^()]*
            q += 2
            while True:
                c = _at(L, q)
                if c == 41 or c == 40 or c == NOCHAR:
                    break
                q += 1
            if c != 41:
                return DEFER
            q += 1
        if _at(L, q) != 32:
            return DEFER
        q += 1
        if _at(L, q) == 105:  # in=(\d{1,18}) out=(\d{1,18}) deleted=(\d{1,9}) expunged=(\d{1,9}) trashed=(\d{1,9})
            n1 = _num_after(L, q, "in=", 18, &n0)
            o1 = _num_after(L, n1, " out=", 18, &o0) if n1 >= 0 else -1
            e1 = _num_after(L, o1, " deleted=", 9, &e0) if o1 >= 0 else -1
            x1 = _num_after(L, e1, " expunged=", 9, &x0) if e1 >= 0 else -1
            z1 = _num_after(L, x1, " trashed=", 9, &z0) if x1 >= 0 else -1
            if z1 < 0:
                return DEFER
            q = z1
            if q != L.n:  # ` hdr_count=\d+ hdr_bytes=\d+ body_count=\d+ body_bytes=\d+`
                for word in (b" hdr_count=", b" hdr_bytes=", b" body_count=", b" body_bytes="):
                    q = _num_after(L, q, word, 1 << 30, &t)
                    if q < 0:
                        return DEFER
                if q != L.n:
                    return DEFER
            ts = self._when(line, L, syslog, host_at)
            if ts is None:
                return DEFER
            ev = _head(ts, PyUnicode_Substring(line, host_at, host_end), proto, _LOGOUT,
                       PyUnicode_Substring(line, u0, u1), None,
                       PyUnicode_Substring(line, s0, s1) if s1 > s0 else None, _number(L, d0, d1))
            _put(ev, 8, _number(L, e0, e1))  # deleted
            _put(ev, 12, _number(L, x0, x1))  # expunged
            _put(ev, 13, _number(L, z0, z1))  # trashed
            _put(ev, 14, _number(L, n0, n1))  # bytes_in
            _put(ev, 15, _number(L, o0, o1))  # bytes_out
            _put(ev, 21, reason)
            return ev
        # top=\d{1,18}/\d{1,18}, retr=\d{1,18}/\d{1,18}, del=(\d{1,9})/(\d{1,18}), size=(\d{1,18})
        q = _num_after(L, q, "top=", 18, &t)
        q = _num_after(L, q, "/", 18, &t) if q >= 0 else -1
        q = _num_after(L, q, ", retr=", 18, &t) if q >= 0 else -1
        q = _num_after(L, q, "/", 18, &t) if q >= 0 else -1
        e1 = _num_after(L, q, ", del=", 9, &e0) if q >= 0 else -1
        x1 = _num_after(L, e1, "/", 18, &x0) if e1 >= 0 else -1
        z1 = _num_after(L, x1, ", size=", 18, &z0) if x1 >= 0 else -1
        if z1 < 0 or z1 != L.n:
            return DEFER
        ts = self._when(line, L, syslog, host_at)
        if ts is None:
            return DEFER
        deleted = _number(L, e0, e1)
        second = _number(L, x0, x1)
        if self.parser.dovecot24 or deleted > second:
            messages, deleted_bytes = None, second
        else:
            messages, deleted_bytes = second, None
        ev = _head(ts, PyUnicode_Substring(line, host_at, host_end), proto, _LOGOUT,
                   PyUnicode_Substring(line, u0, u1), None,
                   PyUnicode_Substring(line, s0, s1) if s1 > s0 else None, _number(L, d0, d1))
        _put(ev, 8, deleted)
        if messages is not None:
            _put(ev, 9, messages)
        _put(ev, 10, _number(L, z0, z1))  # size
        if deleted_bytes is not None:
            _put(ev, 11, deleted_bytes)
        _put(ev, 21, reason)
        return ev

    cdef object _mail_log(self, str line, Line *L, Py_ssize_t q, str proto, bint syslog,
                          Py_ssize_t host_at, Py_ssize_t host_end, Py_ssize_t u0, Py_ssize_t u1,
                          Py_ssize_t d0, Py_ssize_t d1, Py_ssize_t s0, Py_ssize_t s1):
        """`(expunge|delete|undelete|copy from ([^:,]*)): box=([^,]{0,64}), uid=(\\d{1,18}),
        msgid=([^,]{0,80})[, size=(\\d{1,18}|error)][, vsize=…][, from=…][, subject=…][, flags=(…)]`"""
        cdef Py_ssize_t t, c0 = -1, c1 = -1, b0, b1, i0, i1, g0, g1, z0 = -1, z1 = -1
        cdef uchar c
        cdef str kind
        t = _lit(L, q, "expunge: ")
        if t >= 0:
            kind = _EXPUNGE
        else:
            t = _lit(L, q, "delete: ")
            if t >= 0:
                kind = _DELETE
            else:
                t = _lit(L, q, "undelete: ")
                if t >= 0:
                    kind = _UNDELETE
                else:
                    t = _lit(L, q, "copy from ")
                    if t < 0:
                        return DEFER
                    kind = _COPY
                    c0 = t
                    while True:  # [^:,]*
                        c = _at(L, t)
                        if c == 58 or c == 44 or c == NOCHAR:
                            break
                        t += 1
                    c1 = t
                    t = _lit(L, t, ": ")
                    if t < 0:
                        return DEFER
        q = _lit(L, t, "box=")
        if q < 0:
            return DEFER
        b0 = q
        b1 = _find(L, q, 44)  # [^,]{0,64}
        if b1 < 0 or b1 - b0 > 64:
            return DEFER
        i1 = _num_after(L, b1, ", uid=", 18, &i0)
        if i1 < 0:
            return DEFER
        q = _lit(L, i1, ", msgid=")
        if q < 0:
            return DEFER
        g0 = q
        g1 = _find(L, q, 44)
        if g1 < 0:
            g1 = L.n
        if g1 - g0 > 80:
            return DEFER
        q = g1
        t = _lit(L, q, ", size=")
        if t >= 0:
            z0 = t
            z1 = _digits(L, t, 18)
            if z1 < 0:
                z1 = _lit(L, t, "error")
                if z1 < 0:
                    return DEFER
            q = z1
        t = _lit(L, q, ", vsize=")
        if t >= 0:
            q = _digits(L, t, 18)
            if q < 0:
                q = _lit(L, t, "error")
                if q < 0:
                    return DEFER
        for word in (b", from=", b", subject="):
            t = _lit(L, q, word)
            if t >= 0:
                q = _find(L, t, 44)
                if q < 0:
                    q = L.n
                if q - t > 80:
                    return DEFER
        t = _lit(L, q, ", flags=(")
        if t >= 0:
            while True:  # [^(),]*
                c = _at(L, t)
                if c == 40 or c == 41 or c == 44 or c == NOCHAR:
                    break
                t += 1
            if c != 41:
                return DEFER
            q = t + 1
        if q != L.n:
            return DEFER
        ts = self._when(line, L, syslog, host_at)
        if ts is None:
            return DEFER
        if z0 >= 0 and _digit(_at(L, z0)):
            size = _number(L, z0, z1)
        else:
            size = None
        box = PyUnicode_Substring(line, b0, b1)
        if kind is _COPY:
            mailbox, mailbox_to = PyUnicode_Substring(line, c0, c1), box
        else:
            mailbox, mailbox_to = box, None
        ev = _head(ts, PyUnicode_Substring(line, host_at, host_end), proto, kind,
                   PyUnicode_Substring(line, u0, u1), None,
                   PyUnicode_Substring(line, s0, s1) if s1 > s0 else None, _number(L, d0, d1))
        if size is not None:
            _put(ev, 10, size)
        _put(ev, 16, mailbox)
        if mailbox_to is not None:
            _put(ev, 17, mailbox_to)
        _put(ev, 18, PyUnicode_Substring(line, g0, g1))  # message_id
        _put(ev, 19, _number(L, i0, i1))  # uid
        return ev


cdef Py_ssize_t _iso_end(Line *L) noexcept:
    """The end of _ASCII_ISO at 0: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}
    (?:\\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:?[0-9]{2})?, or -1."""
    cdef Py_ssize_t q, k
    cdef uchar c
    for k in (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18):
        if not _digit(_at(L, k)):
            return -1
    if _at(L, 4) != 45 or _at(L, 7) != 45 or _at(L, 10) != 84 or _at(L, 13) != 58 or _at(L, 16) != 58:
        return -1
    q = 19
    if _at(L, q) == 46:
        k = q + 1
        while _digit(_at(L, k)):
            k += 1
        if k == q + 1 or k - q - 1 > 9:
            return -1
        q = k
    c = _at(L, q)
    if c == 90:  # Z
        q += 1
    elif c == 43 or c == 45:
        if not (_digit(_at(L, q + 1)) and _digit(_at(L, q + 2))):
            return -1
        q += 3
        if _at(L, q) == 58:
            q += 1
        if not (_digit(_at(L, q)) and _digit(_at(L, q + 1))):
            return -1
        q += 2
    return q


cdef bint _no_auth(Line *L, Py_ssize_t s) noexcept:
    """_NO_AUTH_NOISE read from s (after `Disconnected`/`Aborted login`): a `(no auth
    attempts` with no `: user=<` nor `(auth failed, ` before it, then a `: user=<` with no
    `(auth failed, ` before that."""
    cdef Py_ssize_t a, u, f
    a = _find_lit(L, s, "(no auth attempts")
    if a < 0:
        return False
    u = _find_lit(L, s, ": user=<")
    f = _find_lit(L, s, "(auth failed, ")
    if u < a or (0 <= f < a):  # (u < 0 included: no user element at all)
        return False
    return f < 0 or f > u


cdef bint _lmtp_noise(Line *L, Py_ssize_t p) noexcept:
    """_LMTP_NOISE read after `lmtp(` at p: its connection lines, or its stock
    `)<pid><session>: msgid=` at the first `)` (anything else: parse_line decides)."""
    cdef Py_ssize_t i, q
    cdef uchar c
    i = _find_lit(L, p, ": ")
    if i >= 0 and (_lit(L, i + 2, "Connect from ") >= 0 or _lit(L, i + 2, "Disconnect from ") >= 0):
        return True
    q = _find(L, p, 41)
    if q < 0 or _at(L, q + 1) != 60:
        return False
    q = _digits(L, q + 2, 9)
    if q < 0 or _at(L, q) != 62 or _at(L, q + 1) != 60:
        return False
    q += 2
    while True:  # [^<>]*
        c = _at(L, q)
        if c == 60 or c == 62 or c == NOCHAR:
            break
        q += 1
    if c != 62:
        return False
    return _lit(L, q + 1, ": msgid=") >= 0
