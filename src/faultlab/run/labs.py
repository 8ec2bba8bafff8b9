"""A run's own lab (``system.lab``): up before the proxies and services, down after them.

Its state is on disk before anything is made and carries the run's marker as its owner; the
journal says which lab the run made (``lab_starting``, durable, before the lab exists), so
``faultlab recover`` removes it after a crash, and so does ``faultlab lab down NAME``.
"""

from __future__ import annotations

import asyncio

from faultlab.journal import Event, Journal
from faultlab.lab.spec import LabSpec

__all__ = ["RunLab"]


class RunLab:
    def __init__(self, spec: LabSpec | None, journal: Journal, marker: str) -> None:
        self.spec = spec
        self.journal = journal
        self.marker = marker
        self.made = False  # its state is on disk: tear-down must remove it

    async def up(self) -> None:
        if self.spec is None:
            return
        from faultlab.lab.control import lab_up
        from faultlab.lab.state import LabState

        def recorded(state: LabState) -> None:
            self.made = True
            self.journal.write(Event.LAB_STARTING, durable=True, lab=state.name,
                               marker=self.marker)

        state = await lab_up(self.spec, owner=self.marker, on_state=recorded)
        self.journal.write(Event.LAB_UP, lab=state.name, subnet=state.subnet,
                           hosts=state.names())

    async def down(self) -> list[str]:
        """Remove the lab; never raises. Returns what could not be removed."""
        if self.spec is None or not self.made:
            return []
        from faultlab.lab.control import LabError, lab_down

        try:
            done = await asyncio.to_thread(lab_down, self.spec.name)
        except LabError as e:
            self.journal.write(Event.LAB_DOWN, lab=self.spec.name, error=str(e))
            return [f"lab {self.spec.name}"]
        self.journal.write(Event.LAB_DOWN, lab=self.spec.name, done=done)
        self.made = False
        return []
