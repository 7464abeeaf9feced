"""`{% record_rows rows show_date %}`: the <tr> elements of the record table.

The table body is nearly all of a day page's cost. Rendered by the template engine, 500 rows
meant about 40,000 variable lookups and ~60 ms of CPU. Here each row is one str.format, and
every value goes through html.escape, which is what the template's autoescape applies:
every value from a log is attacker-written. Django's own `escape` is html.escape behind a
lazy-string check that costs more than the escaping. The result is about a fifth of the
time. Free-text values from the log (folder, Message-ID, details) go through
webui.records.display.value_html: escaped, invisible characters shown, overlong ones cut.
"""

from __future__ import annotations

from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from webui.records.display import value_html, visible

register = template.Library()

# data-label: the column's name, which a narrow screen shows before each value of a card
_ROW = (
    '<tr class="type-{key}" data-type="{key}"><td class="col-number">{number}</td>'
    '<td class="col-time"><time datetime="{iso}">{when}</time></td>'
    '<td class="col-type"><span class="swatch"></span><span class="type-label">{label}</span>{raw}</td>'
    '<td class="col-ip" data-label="{l_ip}">{ip}</td><td class="col-folder" data-label="{l_folder}">{folder}</td>'
    '<td class="col-msgid" data-label="{l_msgid}">{msgid}</td><td class="col-details">{details}</td></tr>\n'
)
_DETAIL = '<span class="detail"><span class="detail-label">{}</span> {}</span>'


def _text(value: object) -> str:
    """A cell's HTML (display.value_html); empty for a missing value (the template's `|default:""`)."""
    return value_html(value) if value else ""


@register.simple_tag
def record_rows(rows, show_date: bool) -> SafeString:
    # Labels are lazy translations, one object per label: translate and escape each once.
    # Keyed by identity (a lazy string hashes by translating itself); the entry keeps its
    # object alive, so that no other object can take its id during the call.
    labels: dict[int, tuple[object, str]] = {}

    def label(text) -> str:
        done = labels.get(id(text))
        if done is None:
            done = labels[id(text)] = (text, escape(str(text)))
        return done[1]

    headers = {"l_ip": escape(gettext("IP")), "l_folder": escape(gettext("Folder")),
               "l_msgid": escape(gettext("Message-ID"))}  # fmt: skip
    out = []
    for row in rows:
        event, kind = row.event, row.type
        out.append(
            _ROW.format(
                key=escape(kind.key),
                number=row.number,
                iso=escape(row.iso),
                when=escape(row.stamp if show_date else row.clock),
                label=label(kind.label),
                raw=(
                    f' <span class="raw-kind">({value_html(event.protocol)} {value_html(event.kind)})</span>'
                    if kind.key == "other"
                    else ""
                ),
                ip=_text(event.ip),
                folder=_text(event.mailbox),
                msgid=_text(event.message_id),
                details="".join(_DETAIL.format(label(k), value_html(v)) for k, v in row.details),
                **headers,
            )
        )
    return mark_safe("".join(out))  # every value above went through escape() or value_html()


@register.filter
def shown(value: object) -> str:
    """`{{ value|shown }}`: a log value with its invisible characters as markers (then autoescaped)."""
    return visible(value)
