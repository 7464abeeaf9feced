"""The record table's rows, rendered in Python, equal what the template loop rendered."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.utils import translation

from webui.records.models import Event
from webui.records.queries import Row
from webui.records.templatetags.record_rows import record_rows
from webui.records.types import type_of

XSS = "<script>alert('1')</script>&amp;\"\u202e"

# The loop this tag replaced (the record table's body before), kept as the reference.
TEMPLATE_LOOP = Template(
    """{% load i18n record_rows %}{% for row in rows %}
      <tr class="type-{{ row.type.key }}" data-type="{{ row.type.key }}">
        <td class="col-number">{{ row.number }}</td>
        <td class="col-time"><time datetime="{{ row.iso }}">{% if show_date %}{{ row.stamp }}{% else %}{{ row.clock }}{% endif %}</time></td>
        <td class="col-type"><span class="swatch"></span><span class="type-label">{{ row.type.label }}</span>{% if row.type.key == "other" %} <span class="raw-kind">({{ row.event.protocol|shown }} {{ row.event.kind|shown }})</span>{% endif %}</td>
        <td class="col-ip" data-label="{% translate "IP" %}">{{ row.event.ip|default:""|shown }}</td>
        <td class="col-folder" data-label="{% translate "Folder" %}">{{ row.event.mailbox|default:""|shown }}</td>
        <td class="col-msgid" data-label="{% translate "Message-ID" %}">{{ row.event.message_id|default:""|shown }}</td>
        <td class="col-details">{% for label, value in row.details %}<span class="detail"><span class="detail-label">{{ label }}</span> {{ value|shown }}</span>{% endfor %}</td>
      </tr>
    {% endfor %}"""
)


def _rows() -> list[Row]:
    ts = datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC)
    events = [
        Event(id=1, ts=ts, protocol="pop3", kind="login", account="a", ip="2001:db8::1"),
        Event(id=2, ts=ts, protocol="pop3", kind="logout", account="a", ip="192.0.2.1", deleted=3,
              messages=10, size=5_000_000, deleted_bytes=1_000_000, reason=XSS),
        Event(id=3, ts=ts, protocol="imap", kind="message_delete", account="a", mailbox=XSS,
              message_id=XSS, size=12345),
        Event(id=4, ts=ts, protocol="imap", kind="mailbox_rename", account="a", mailbox="A", mailbox_to=XSS),
        Event(id=5, ts=ts, protocol=XSS, kind=XSS, account="a", ip=None, message_id=""),
        Event(id=6, ts=ts, protocol="imap", kind="auth_fail", account="a", ip="192.0.2.9", attempts=4,
              reason="auth failed"),
        Event(id=7, ts=ts, protocol="imap", kind="logout", account="a", deleted=0, expunged=2, trashed=1),
    ]  # fmt: skip
    return [Row(i + 1, e, type_of(e.protocol, e.kind)) for i, e in enumerate(events)]


def _squeeze(html: str) -> str:
    return re.sub(r">\s+<", "><", html).strip()


@pytest.mark.parametrize("language", ["en", "zh-hant"])
@pytest.mark.parametrize("show_date", [True, False])
def test_it_renders_exactly_what_the_template_loop_rendered(language, show_date):
    rows = _rows()
    with translation.override(language):
        want = TEMPLATE_LOOP.render(Context({"rows": rows, "show_date": show_date}))
        got = record_rows(rows, show_date)
    assert _squeeze(got) == _squeeze(want)


def test_every_log_value_is_escaped():
    html = record_rows(_rows(), True)
    assert "<script" not in html
    assert html.count("&lt;script&gt;alert(&#x27;1&#x27;)&lt;/script&gt;&amp;amp;&quot;") == 6
    assert "\u202e" not in html
