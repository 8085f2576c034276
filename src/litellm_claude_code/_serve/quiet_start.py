"""A start-up that says only what the operator needs: ``serve``'s own lines.

LiteLLM's proxy prints an ASCII-art banner, a "feedback" box and a red "Give
Feedback / Get Help" line at every start. Its feedback box has a switch (an
environment variable); the banner has none, so its text is blanked in the
module LiteLLM reads it from at start-up (1.106: ``show_banner``, 1.110: the
constant itself, both read ``LITELLM_BANNER`` when they run).
"""

from __future__ import annotations

import os


def quiet_start() -> None:
    """Before LiteLLM's proxy starts, in this process (``serve`` only)."""
    import litellm
    from litellm.proxy.common_utils import banner

    os.environ.setdefault("LITELLM_DONT_SHOW_FEEDBACK_BOX", "true")
    banner.LITELLM_BANNER = ""  # type: ignore[misc]  # a Final of LiteLLM's, read when the proxy starts
    litellm.suppress_debug_info = True  # the "Give Feedback / Get Help" line
