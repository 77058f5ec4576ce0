"""A hostile Python plugin: what it does to an account depends on the account's id.

loop: never returns. alloc: asks for 256 MiB. raise: raises. file: reads
/etc/passwd. socket: connects to 127.0.0.1:5432. env: reads the environment.
clock / random: what time and chance say. Anything else scores 1.
"""

import os
import random
import socket
import time

from headway_kit import Plugin

plugin = Plugin("hostile-py", "0.1.0").band("red", 0).factor("f", "F", 1.0)


@plugin.assess
def assess(a, card):
    what = a.id
    if what == "loop":
        while True:
            pass
    if what == "alloc":
        # Far past the 64 MiB cap in one request: memory growth is refused.
        hoard = [bytearray(256 << 20)]
        del hoard
    if what == "raise":
        raise ValueError("this account is cursed")
    reason = "ok"
    if what == "file":
        try:
            with open("/etc/passwd") as f:
                reason = "read " + f.read(40)
        except OSError as e:
            reason = f"no file: {type(e).__name__}"
    elif what == "socket":
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.connect(("127.0.0.1", 5432))
            s.close()
            reason = "connected"
        except Exception as e:  # noqa: BLE001 - whatever refuses it, it is refused
            reason = f"no socket: {type(e).__name__}"
    elif what == "env":
        reason = f"env {sorted(os.environ)}"
    elif what == "clock":
        reason = f"time {time.time()}"
    elif what == "random":
        reason = f"random {random.random()}"
    card.factor("f", 1.0, 1.0, reason)


Rules = plugin.rules()
