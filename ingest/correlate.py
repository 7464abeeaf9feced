"""The correlate stage: logout and mail_log events get the IP of their session's login."""

from __future__ import annotations

from collections import OrderedDict

from ingest.event import AUTH_FAIL, CLIENT_ID, LOGIN, LOGOUT, Event
from ingest.speedups import fastcorrelate

# Kinds that name no IP in their own line and take their login's.
_NEEDS_IP = frozenset(("logout", "message_delete", "mailbox_delete", "mailbox_rename",
                       "mailbox_create", "flag_delete", "undelete", "copy", "save"))  # fmt: skip


_IP = Event._fields.index("ip")
_CLIENT = Event._fields.index("client_name")  # the four client fields end the Event
_new = tuple.__new__


class Correlator:
    """Remembers each open session's IP, per host, by session id and by mail process pid.

    A login registers (host, session) and (host, pid) — pid is the login's mpid=, which is
    the <pid> of the mail process prefix (2.3+). A logout or mail_log line without an IP is
    joined on its session id, else on its pid. A logout forgets the session. Memory is
    bounded: past max_sessions the least recently used entries are dropped (the sink fills
    what is left from committed logins after a restart).

    Before 2.3 the mail process prefix was `imap(user): `, with neither pid nor session. Such
    a line is joined on (host, protocol, account) only when every open login of that account
    came from one IP: a guess that cannot name the wrong computer, or no IP at all.
    """

    def __init__(self, max_sessions: int = 200_000) -> None:
        self.max_sessions = max(1, max_sessions)
        # LRU lists: a hit moves the key to the end, eviction pops the front. OrderedDict, not
        # dict: finding a dict's first key walks the slots its deletions left (O(n) a pop).
        self._by_session: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._by_pid: OrderedDict[tuple[str, int], str] = OrderedDict()
        # (host, protocol, account) → {ip: open logins from it}
        self._by_account: OrderedDict[tuple[str, str, str], dict[str, int]] = OrderedDict()
        # (host, session) → what its IMAP ID said (name, version, os, vendor): ingest/clients.py
        self._clients: OrderedDict[tuple[str, str], tuple] = OrderedDict()

    def process(self, event: Event) -> Event:
        # By index rather than by name, in one function but for _remember: it runs for
        # every event.
        kind = event[3]
        clients = self._clients
        if kind == CLIENT_ID:
            if event[6] is not None:
                key = (event[1], event[6])
                clients[key] = event[_CLIENT:]  # _remember, written out: ~8 % of events
                clients.move_to_end(key)
                if len(clients) > self.max_sessions:
                    clients.popitem(last=False)
            return event
        # what its session's IMAP ID said (ingest/clients.py); the session ends with a logout
        # or a failed sign-in (not resumed). Written out here: most rows of an IMAP session
        # take it.
        if clients and event[6] is not None and (client := clients.get(key := (event[1], event[6]))):
            if kind == LOGOUT or kind == AUTH_FAIL:
                del clients[key]
            event = _new(Event, (*event[:_CLIENT], *client))
        if kind == LOGIN:
            ip = event[5]
            if ip is not None:
                host, session, pid = event[1], event[6], event[7]
                if session is not None:
                    _remember(self._by_session, (host, session), ip, self.max_sessions)
                if pid is not None:
                    _remember(self._by_pid, (host, pid), ip, self.max_sessions)
                table = self._by_account
                key = (host, event[2], event[4])
                ips = table.pop(key, None) or {}
                ips[ip] = ips.get(ip, 0) + 1
                table[key] = ips  # popped first: it goes to the end
                if len(table) > self.max_sessions:
                    table.popitem(last=False)
            return event
        if kind not in _NEEDS_IP:
            return event
        ip = event[5]
        host, session, pid = event[1], event[6], event[7]
        if ip is None:
            if session is not None and (ip := self._by_session.get(key := (host, session))) is not None:
                self._by_session.move_to_end(key)  # most recently used
            elif pid is not None and (ip := self._by_pid.get(key := (host, pid))) is not None:
                self._by_pid.move_to_end(key)
            elif session is None and pid is None:  # a 2.2 or older prefix
                ips = self._by_account.get((host, event[2], event[4]))
                if ips is not None and len(ips) == 1:
                    ip = next(iter(ips))
            if ip is not None:
                # tuple.__new__ on slices: a fifth of the cost of NamedTuple._replace
                event = _new(Event, (*event[:_IP], ip, *event[_IP + 1 :]))
        if kind == LOGOUT:
            if session is not None:
                self._by_session.pop((host, session), None)
            if pid is not None:
                self._by_pid.pop((host, pid), None)
            if ip is not None:
                key = (host, event[2], event[4])
                ips = self._by_account.get(key)
                if ips is not None and ip in ips:
                    ips[ip] -= 1
                    if not ips[ip]:
                        del ips[ip]
                        if not ips:
                            del self._by_account[key]
        return event

    def unresolved(self, event: Event) -> bool:
        """True for an event that should carry its login's IP and still does not."""
        return event.ip is None and event.kind in _NEEDS_IP

    def __len__(self) -> int:
        return len(self._by_session) + len(self._by_pid)


def _remember(table: OrderedDict, key: tuple, value: object, most: int) -> None:
    """key → value as the most recently used entry; the least recently used goes past `most`."""
    table[key] = value
    table.move_to_end(key)
    if len(table) > most:
        table.popitem(last=False)


def _extend_rows(
    correlator: Correlator, events: list[Event], offsets: list[int], source_id: int, rows: list
) -> None:
    """rows += [(*correlator.process(event), source_id, offset) …]: a batch row for each
    event of a chunk and its line's offset, fill_batch's loop over events.

    The reference of ingest/_fastcorrelate.pyx's extend_rows, which does the same steps on
    the same tables in C and builds each row without an Event in between."""
    process = correlator.process
    append = rows.append
    for event, offset in zip(events, offsets, strict=True):
        append((*process(event), source_id, offset))


extend_rows = fastcorrelate.extend_rows if fastcorrelate is not None else _extend_rows
