"""Size limits shared by every reader of input files: chunk size, one zip member, one JSON
value, one file read whole, and the inflation ratio that marks a zip bomb."""

from __future__ import annotations

DEFAULT_MAX_MEMBER_BYTES = 2 * 1024**3  # 2 GiB per zip member
CHUNK = 1 << 20
# One JSON value (a post with its metadata) bigger than this is not a post: refusing it keeps
# memory and time bounded (a 200 MB "post" otherwise costs GBs and a minute).
MAX_ELEMENT_CHARS = 16 * CHUNK
# Files parsed in one piece (a Mastodon outbox, a JSON object wrapping the posts).
MAX_WHOLE_FILE_BYTES = 1024**3
# A member that inflates more than this many times over (and to more than 64 MiB) is a zip bomb:
# real archives of JSON text compress 5-20 times.
MAX_RATIO = 200
RATIO_FLOOR = 64 * CHUNK
