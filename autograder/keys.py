"""The hidden inputs' keys: one per submission, derived on the trusted side from the secret seed.

grader.yml's ``seed`` is a secret of 128 bits (32 hex digits). Every path that grades a
submission (one notebook, a batch, a cluster worker, Gradescope) derives its key with
:func:`submission_key`: HMAC-SHA256 of the seed over the submission's graded code cells. So the
same code always gets the same inputs (a re-export, a resumed batch), and different code gets
inputs that nothing learnt from another submission predicts. ``autograder verify`` grades on
:func:`draw_keys` instead, keys of the same secret that no submission can have. Neither the seed
nor a key ever reaches the sandboxed child: the hidden tests draw from the question's generator
(:func:`autograder.checks.question_rng`) and send the drawn values only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence

SEED_HINT = (
    "the seed is a secret of 32 hex digits (128 bits), quoted; make one with "
    "python -c 'import secrets; print(secrets.token_hex(16))'"
)


def _mac(seed: str, domain: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 of the seed over ``message``, in a domain of its own: no message of one
    domain (a submission's cells) can give the key of another (a verify draw)."""
    return hmac.new(bytes.fromhex(seed), domain + b"\0" + message, hashlib.sha256).digest()


def submission_key(seed: str, cells: Sequence[str]) -> bytes:
    """The key of the hidden inputs of a submission whose graded code cells are ``cells``.

    Whitespace at the end of a line or a cell and empty cells do not count, so a notebook saved
    again, or exported once more, keeps its key; any other change of the code gives a new one."""
    code = ["\n".join(line.rstrip() for line in cell.rstrip().splitlines()) for cell in cells]
    canonical = json.dumps([c for c in code if c], ensure_ascii=False)
    return _mac(seed, b"submission", canonical.encode("utf-8", "surrogatepass"))


def draw_keys(seed: str, n: int) -> list[bytes]:
    """``n`` keys of the seed for verify's draws, none of which a submission can have."""
    return [_mac(seed, b"verify draw", str(i).encode()) for i in range(n)]
