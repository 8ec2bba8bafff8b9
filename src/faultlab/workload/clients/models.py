"""Which data models each history client can run, and the operations each model needs.

The table is checked against the clients themselves (each client's ``kinds`` must cover
:data:`MODEL_OPS` of every model it lists) by the tests, so validation can refuse a pair
such as ``client: redis`` with ``model: bank`` without importing any driver.
"""

from __future__ import annotations

from faultlab.workload.clients.base import OpKind

__all__ = ["CLIENT_MODELS", "MODEL_OPS", "unsupported"]

#: the operations a model's generator issues (and its set-up)
MODEL_OPS: dict[str, frozenset[OpKind]] = {
    "register": frozenset({OpKind.READ, OpKind.WRITE}),
    "cas-register": frozenset({OpKind.READ, OpKind.WRITE, OpKind.CAS}),
    "set": frozenset({OpKind.ADD, OpKind.READ_SET}),
    "queue": frozenset({OpKind.ENQUEUE, OpKind.DEQUEUE}),
    "bank": frozenset({OpKind.TRANSFER, OpKind.READ_BANK, OpKind.OPEN_BANK}),
}

#: client -> the models it runs
CLIENT_MODELS: dict[str, tuple[str, ...]] = {
    "kv-http": ("register", "cas-register", "set"),
    "redis": ("register", "cas-register", "set", "queue"),
    "postgres": ("register", "cas-register", "set", "bank"),
    "etcd": ("register", "cas-register", "set"),
}


def unsupported(client: str, model: str) -> tuple[str, str] | None:
    """(message, hint) when ``client`` cannot run ``model``; None when it can (or is unknown:
    unknown names are for the caller's own check)."""
    models = CLIENT_MODELS.get(client)
    if models is None or model not in MODEL_OPS or model in models:
        return None
    others = [c for c, ms in CLIENT_MODELS.items() if model in ms]
    return (f"{model!r} is a model that {client} cannot run",
            f"{client} runs: {', '.join(models)}; the {model} model runs on: "
            f"{', '.join(others) or 'no client'}")
