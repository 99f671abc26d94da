"""tensorbus with blocking receives (sleeps on the topic futex): cross-process scenarios only."""

import sys_tensorbus
from sys_tensorbus import Endpoint, version  # noqa: F401

sys_tensorbus.BLOCKING = True
NOT_OFFERED = {}
