"""How an assembled message looks on each channel: small HTML mock-ups with length counters.

All text is escaped before it goes into HTML: atoms are typed by people.
"""

from __future__ import annotations

from html import escape
from typing import Any

from workbench.library.assembly import Message
from workbench.library.channels import sms_info

_CARD = ("border:1px solid #d0d4dc;border-radius:14px;padding:12px 14px;margin:4px 0 10px 0;"
         "font-family:-apple-system,Segoe UI,Roboto,sans-serif;background:{bg};max-width:420px")


def _counter(text: str, limit: int, label: str) -> str:
    n = len(text)
    colour = "#b42318" if limit and n > limit else "#667085"
    cap = f"/{limit}" if limit else ""
    return f'<span style="color:{colour};font-size:11px">{label} {n}{cap}</span>'


def _image(msg: Message) -> str:
    if not msg.image:
        return ""
    return ('<div style="background:#eef2f6;border-radius:8px;padding:6px 8px;margin-top:6px;'
            f'font-size:12px;color:#475467">Image: {escape(msg.image)}</div>')


def push(msg: Message, ch: dict[str, Any]) -> str:
    return (f'<div data-preview="push" style="{_CARD.format(bg="#f8f9fb")}">'
            '<div style="font-size:11px;color:#667085">Push · DeliverEat · now</div>'
            f'<div style="font-weight:600">{escape(msg.title)}</div>'
            f'<div>{escape(msg.body)}</div>{_image(msg)}'
            f'<div>{_counter(msg.title, ch["title_max"], "title")} · '
            f'{_counter(msg.body, ch["body_max"], "body")}</div></div>')


def email(msg: Message, ch: dict[str, Any]) -> str:
    body = "<br>".join(escape(line) for line in msg.body.split("\n"))
    return (f'<div data-preview="email" style="{_CARD.format(bg="#ffffff")}">'
            '<div style="font-size:11px;color:#667085">Inbox · DeliverEat</div>'
            f'<div style="font-weight:600">{escape(msg.title)}</div>'
            f'<div style="color:#667085;font-size:13px">{escape(msg.preheader)}</div>'
            f'<hr style="margin:6px 0">{_image(msg)}<div>{body}</div>'
            f'<div>{_counter(msg.title, ch["title_max"], "subject")} · '
            f'{_counter(msg.preheader, ch["preheader_max"], "preheader")} · '
            f'{_counter(msg.body, ch["body_max"], "body")}</div></div>')


def sms(msg: Message, ch: dict[str, Any]) -> str:
    info = sms_info(msg.body)
    over = info.parts > 1 or len(msg.body) > ch["body_max"]
    colour = "#b42318" if over else "#667085"
    return (f'<div data-preview="sms" style="{_CARD.format(bg="#e7f6ec")}">'
            '<div style="font-size:11px;color:#667085">SMS from DeliverEat</div>'
            f'<div>{escape(msg.body)}</div>'
            f'<div data-testid="sms-counter" style="color:{colour};font-size:11px">'
            f'{info.units}/{info.single_limit} {info.encoding} · {info.parts} part'
            f'{"s" if info.parts != 1 else ""}</div></div>')


def in_app(msg: Message, ch: dict[str, Any]) -> str:
    return (f'<div data-preview="in_app" style="{_CARD.format(bg="#fff8ec")}">'
            f'<div style="font-weight:600">{escape(msg.title)}</div>'
            f'<div>{escape(msg.body)}</div>{_image(msg)}'
            f'<div>{_counter(msg.title, ch["title_max"], "title")} · '
            f'{_counter(msg.body, ch["body_max"], "body")}</div></div>')


RENDERERS = {"push": push, "email": email, "sms": sms, "in_app": in_app}


def render(msg: Message, channel: dict[str, Any]) -> str:
    """HTML of ``msg`` as ``channel`` shows it (unknown channels render like in-app cards)."""
    return RENDERERS.get(channel["id"], in_app)(msg, channel)
