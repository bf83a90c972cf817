"""Masking the secrets of storage URLs wherever a URL or a command line is printed or written."""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy
import sqlalchemy.exc

MASK = "***"
# Query parameters that carry a secret, e.g. ?password=..., ?sslpassword=..., ?api_key=...
_SECRET_KEY = re.compile(r"pass|pwd|secret|token|cred|auth|key", re.IGNORECASE)
# user:password@ of a URL SQLAlchemy cannot parse; up to the last "@", as an unescaped
# password may hold "@" or "/".
_USERINFO = re.compile(r"(?P<head>[\w+.-]*://[^:/@?#\s]*):[^\s]*@")
_QUERY_SECRET = re.compile(r"(?P<key>[?&;][^=&;#\s]*)=(?P<value>[^&;#\s]*)")
_PLACEHOLDER = "MASKEDSECRETVALUE"  # URL-safe, so that rendering leaves it as it is


def mask_url(url: str) -> str:
    """The URL with its password and secret query parameters shown as ``***``.

    A URL SQLAlchemy cannot parse is masked by its text: ``scheme://user:...@`` and any
    ``password=``-like query parameter.
    """
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError, TypeError):
        return _mask_text(url)
    if parsed.password is None and not any(map(_SECRET_KEY.search, parsed.query)):
        return _mask_text(url)  # as typed: rendering would quote a path's ":" or spaces
    query = {
        key: _PLACEHOLDER if _SECRET_KEY.search(key) else value
        for key, value in parsed.query.items()
    }
    rendered = parsed.set(query=query).render_as_string(hide_password=True)
    # An unescaped "@" in a password parses as part of the host: mask up to the last "@".
    return _mask_text(rendered.replace(_PLACEHOLDER, MASK))


def _mask_text(text: str) -> str:
    text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)
    return _QUERY_SECRET.sub(
        lambda m: f"{m['key']}={MASK}" if _SECRET_KEY.search(m["key"]) else m[0], text
    )


def mask_argv(argv: Sequence[str]) -> list[str]:
    """A command line with every URL-like argument masked (``--storage URL``, ``--storage=URL``
    and argparse's abbreviations alike)."""
    masked = []
    for arg in argv:
        flag, equals, value = arg.partition("=")
        if arg.startswith("-") and equals and "://" in value:
            masked.append(f"{flag}={mask_url(value)}")
        elif "://" in arg or _QUERY_SECRET.search(arg):
            masked.append(mask_url(arg))
        else:
            masked.append(arg)
    return masked


def scrub(text: str, url: str) -> str:
    """``text`` (say, a driver's error message) with the URL's password, if any, masked."""
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError, TypeError):
        return _mask_text(text)
    secrets = [parsed.password]
    for key, value in parsed.query.items():
        if _SECRET_KEY.search(key):
            secrets += [value] if isinstance(value, str) else list(value)
    text = text.replace(url, mask_url(url))
    for secret in secrets:
        if secret:
            text = text.replace(str(secret), MASK)
    return _mask_text(text)
