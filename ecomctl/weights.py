"""Model weights policy for every learned stage (diffusion backends, Grounded-SAM): where weights may come
from (the offline rule and the `allow_download` switch) and the one hint for a missing models extra."""

from __future__ import annotations

import os

INSTALL_HINT = "install the models extra: pip install 'ecomctl[models]'"


def offline() -> bool:
    """HF_HUB_OFFLINE set to a true value: nothing may be downloaded, whatever the settings say."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def may_download(allow_download: bool) -> bool:
    """A stage's `allow_download` setting under the offline rule."""
    return allow_download and not offline()
