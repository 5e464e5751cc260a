"""What keystroke's own tests use to take time and faults in hand, shipped so that users' tests can too.

- `ManualClock` (and `settle`): a clock moved by hand, for everything that takes a clock;
- `GatedLane`: a remote lane that holds each request until released (or fails it), around a real lane;
- `GatedEngine`: an engine that computes a token only when told, for scheduling tests;
- `StallingBackend`, `DyingBackend`: backends that stall before their first token or die mid-stream, around a
  real backend.

Fakes here are for fault injection and timing only: they wrap real components, they do not replace them.
"""

from keystroke.domain.engines.faults import DyingBackend, GatedEngine, StallingBackend
from keystroke.services.lane_faults import GatedLane
from keystroke.testing.clock import ManualClock, settle

__all__ = ["DyingBackend", "GatedEngine", "GatedLane", "ManualClock", "StallingBackend", "settle"]
