"""E-mail (.eml, RFC 5322 with MIME) → the message's text and its attachments, each to be read as
a document of its own.

The body is the text/plain part, else the HTML part through the HTML reader; transfer encodings
(quoted-printable, base64) and charsets are decoded by the standard `email` package. The
subject is the title; from, to, cc and date are metadata and the first lines of the text, as a
mail program shows them. A part is an attachment when it is marked as one or has a file name;
an inline part without a name (a logo in an HTML signature) belongs to the body and is not read.
A forwarded message (message/rfc822) is an attachment named after its subject.
"""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage, Message

from rag.core.errors import DocumentError
from rag.ingest.anchors import Extracted, scrub

_HEADERS = (("from", "From"), ("to", "To"), ("cc", "Cc"))
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")
_MAX_NAME = 120
_MAX_DEPTH = 20  # multipart nesting; real mail nests three or four deep


@dataclass(frozen=True)
class Attachment:
    name: str  # the file name as sent, made safe for an id: no directories or control characters
    data: bytes
    content_type: str


@dataclass(frozen=True)
class Mail:
    extracted: Extracted
    attachments: tuple[Attachment, ...] = ()


def read_mail(data: bytes) -> Mail:
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
    except Exception as exc:  # noqa: BLE001 - the parser is lenient, but not with everything
        raise DocumentError(f"unreadable e-mail: {type(exc).__name__}: {str(exc)[:120]}") from None
    if not isinstance(message, EmailMessage) or not message.keys():
        raise DocumentError("not an e-mail: no header lines such as From: or Subject:")
    metadata = {key: _header(message, key) for key, _ in _HEADERS}
    metadata["date"] = _date(message)
    subject = _header(message, "subject")
    body_part = _body_part(message)
    body, title_from_html, html_meta = "", None, {}
    if body_part is not None:
        text = _text_of(body_part)
        if body_part.get_content_subtype() == "html":
            from rag.ingest.markup import extract_html

            page = extract_html(text)
            body, title_from_html, html_meta = page.text, page.title, page.metadata
        else:
            body = scrub(text)
    attachments, more_text = _attachments(message, body_part)
    if more_text:  # plain-text parts after an inline attachment, or a list's footer: the body goes on
        body = "\n\n".join([body.strip(), *(scrub(t).strip() for t in more_text)])
    lines = [f"{label}: {metadata[key]}" for key, label in _HEADERS if metadata.get(key)]
    if metadata["date"]:
        lines.append(f"Date: {_header(message, 'date')}")
    if subject:
        lines.append(f"Subject: {subject}")
    text = "\n".join(scrub(line) for line in lines) + "\n\n" + body.strip()
    if attachments:
        text += "\n\nAttachments: " + ", ".join(a.name for a in attachments)
    meta = {**{k: v for k, v in html_meta.items() if v and k != "date"}, **{k: v for k, v in metadata.items() if v}}
    return Mail(Extracted(text, scrub(subject) or title_from_html, meta), tuple(attachments))


def extract_eml(data: bytes) -> Extracted:
    """The message alone (an attached message, an upload): its attachments are not read."""
    return read_mail(data).extracted


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 - a header the policy cannot parse is read as it was written
        value = next((v for k, v in message.raw_items() if k.lower() == name), None)
    return " ".join(str(value).split()) if value is not None else ""


def _date(message: Message) -> str:
    try:
        header = message.get("date")
        when = getattr(header, "datetime", None)
    except Exception:  # noqa: BLE001 - an unparseable date is no date
        return ""
    return when.isoformat() if when is not None else ""


def _body_part(message: EmailMessage) -> EmailMessage | None:
    try:
        return message.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001 - a broken MIME tree: read what the walk finds
        return None


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, ValueError, AssertionError, KeyError):
        pass  # an unknown or wrong charset: the bytes as UTF-8, bad ones replaced
    payload = part.get_payload(decode=True) or b""
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)


def _attachments(message: Message, body_part: Message | None) -> tuple[list[Attachment], list[str]]:
    """The attachments, and the text of inline text/plain parts other than the body (not the
    alternatives of a multipart/alternative, which say the body again)."""
    found: list[Attachment] = []
    names: set[str] = set()
    texts: list[str] = []

    def visit(part: Message, depth: int, alternative: bool = False) -> None:
        if part is body_part or depth > _MAX_DEPTH:
            return
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                subject = _header(inner, "subject") or "forwarded message"
                add(part.get_filename() or f"{subject}.eml", inner.as_bytes(policy=email.policy.default), kind)
            return
        if part.is_multipart():
            for child in part.iter_parts() if isinstance(part, EmailMessage) else part.get_payload():
                if isinstance(child, Message):
                    visit(child, depth + 1, part.get_content_subtype() == "alternative")
            return
        try:
            filename = part.get_filename()
        except Exception:  # noqa: BLE001 - a malformed parameter: no name
            filename = None
        if not filename and part.get_content_disposition() != "attachment":
            if kind == "text/plain" and not alternative and body_part is not None:
                texts.append(_text_of(part))
            return
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            add(filename or "", payload, kind)

    def add(filename: str, data: bytes, kind: str) -> None:
        name = _safe_name(filename) or f"attachment-{len(found) + 1}{_extension(kind)}"
        if name in names:  # two attachments of one name: the later ones numbered, as a file manager would
            stem, dot, ext = name.rpartition(".") if "." in name[1:] else (name, "", "")
            n = 2
            while f"{stem} ({n}){dot}{ext}" in names:
                n += 1
            name = f"{stem} ({n}){dot}{ext}"
        names.add(name)
        found.append(Attachment(name, data, kind))

    visit(message, 0)
    return found, [t for t in texts if t.strip()]


def _safe_name(filename: str) -> str:
    name = unicodedata.normalize("NFC", scrub(filename)).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub(" ", name).strip(" .")
    if len(name) > _MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = stem[:_MAX_NAME - len(ext) - 1] + dot + ext if dot and len(ext) <= 10 else name[:_MAX_NAME]
    return name


def _extension(content_type: str) -> str:
    import mimetypes

    if content_type == "message/rfc822":
        return ".eml"
    if content_type == "text/plain":
        return ".txt"
    return mimetypes.guess_extension(content_type) or ""
