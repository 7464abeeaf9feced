"""The correlate stage: logout and mail_log events get the IP of their session's login."""

from __future__ import annotations

from collections import OrderedDict

from ingest.event import AUTH_FAIL, CLIENT_ID, LOGIN, LOGOUT, Event

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
        kind = event.kind
        if kind == CLIENT_ID:
            if event.session is not None:
                self._remember(self._clients, (event.host, event.session), event[_CLIENT:])
            return event
        clients = self._clients
        if clients and (event.host, event.session) in clients:  # a membership test: no call a row
            event = self._client(event)
        if kind == LOGIN:
            ip = event.ip
            if ip is not None:
                host = event.host
                if event.session is not None:
                    self._remember(self._by_session, (host, event.session), ip)
                if event.pid is not None:
                    self._remember(self._by_pid, (host, event.pid), ip)
                key = (host, event.protocol, event.account)
                ips = self._by_account.pop(key, None) or {}
                ips[ip] = ips.get(ip, 0) + 1
                self._remember(self._by_account, key, ips)
            return event
        if kind not in _NEEDS_IP:
            return event
        ip = event.ip
        if ip is None:
            ip = self._find(event)
            if ip is not None:
                # tuple.__new__ on slices: a fifth of the cost of NamedTuple._replace
                event = _new(Event, (*event[:_IP], ip, *event[_IP + 1 :]))
        if kind == LOGOUT:
            if event.session is not None:
                self._by_session.pop((event.host, event.session), None)
            if event.pid is not None:
                self._by_pid.pop((event.host, event.pid), None)
            if ip is not None:
                ips = self._by_account.get((event.host, event.protocol, event.account))
                if ips is not None and ip in ips:
                    ips[ip] -= 1
                    if not ips[ip]:
                        del ips[ip]
                        if not ips:
                            del self._by_account[(event.host, event.protocol, event.account)]
        return event

    def _client(self, event: Event) -> Event:
        """The event with what its session's IMAP ID said (ingest/clients.py)."""
        key = (event.host, event.session)
        if event.kind in (LOGOUT, AUTH_FAIL):  # the session ends (a failed one is not resumed)
            client = self._clients.pop(key)
        else:
            client = self._clients[key]
        return _new(Event, (*event[:_CLIENT], *client))

    def unresolved(self, event: Event) -> bool:
        """True for an event that should carry its login's IP and still does not."""
        return event.ip is None and event.kind in _NEEDS_IP

    def __len__(self) -> int:
        return len(self._by_session) + len(self._by_pid)

    def _find(self, event: Event) -> str | None:
        if event.session is not None:
            key = (event.host, event.session)
            ip = self._by_session.get(key)
            if ip is not None:
                self._by_session.move_to_end(key)  # most recently used
                return ip
        if event.pid is not None:
            key2 = (event.host, event.pid)
            ip = self._by_pid.get(key2)
            if ip is not None:
                self._by_pid.move_to_end(key2)
                return ip
        if event.session is None and event.pid is None:  # a 2.2 or older prefix
            ips = self._by_account.get((event.host, event.protocol, event.account))
            if ips is not None and len(ips) == 1:
                return next(iter(ips))
        return None

    def _remember(self, table: OrderedDict, key: tuple, value: object) -> None:
        table[key] = value
        table.move_to_end(key)
        if len(table) > self.max_sessions:
            table.popitem(last=False)
