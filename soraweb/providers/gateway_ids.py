"""Gateway-managed video ids: what soraweb must know of them to follow a job through a gateway.

LiteLLM's proxy hands out its own ids: ``video_`` + base64 of
``litellm:custom_llm_provider:<provider>;model_id:<deployment>;video_id:<upstream id>``, and later
routes every status, content and remix request by the deployment named inside. Its remix answer
(1.106.12) names no deployment, so the remix's status queries go to the provider's public
default host instead of the relay that made it. A remix is always made by the deployment of its
source, so soraweb writes the source's deployment into such an id. Ids of any other shape, and
LiteLLM ids that already name a deployment, are returned unchanged.
"""

from __future__ import annotations

import base64
import binascii
from typing import NamedTuple

PREFIX = "video_"
_HEAD = "litellm:custom_llm_provider:"


class ManagedId(NamedTuple):
    provider: str
    deployment: str
    upstream_id: str

    def encode(self) -> str:
        text = f"{_HEAD}{self.provider};model_id:{self.deployment};video_id:{self.upstream_id}"
        return PREFIX + base64.b64encode(text.encode()).decode()


def decode(remote_id: str) -> ManagedId | None:
    """The parts of a LiteLLM-managed id, or None when the id is not one."""
    if not remote_id.startswith(PREFIX):
        return None
    body = remote_id[len(PREFIX) :]
    try:
        text = base64.b64decode(body + "=" * (-len(body) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    provider, sep1, rest = text.removeprefix(_HEAD).partition(";model_id:")
    deployment, sep2, upstream = rest.partition(";video_id:")
    if not text.startswith(_HEAD) or not sep1 or not sep2 or not upstream:
        return None
    return ManagedId(provider, deployment, upstream)


def remix_id(new_id: str, *, source_id: str) -> str:
    """The id to follow a remix by: ``new_id``, with the source's deployment where the gateway
    left it out."""
    new, source = decode(new_id), decode(source_id)
    if new is None or source is None or new.deployment or not source.deployment:
        return new_id
    return new._replace(deployment=source.deployment).encode()
