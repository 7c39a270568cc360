"""Per-PE timelines of a traced run, written as Chrome trace-event JSON.

A `Timeline` is a trace callback: pass it as `Machine.run(trace=timeline)` (or call
it from your own callback).  From each retired instruction's TraceRecord it keeps
spans on two tracks per PE:

  core   busy (issuing and executing instructions, consecutive ones merged unless
         detail=True), and stalls by cause: the cycles a `send`, `recv` or `sync`
         waited before it could issue (they end where it issues), and the memory,
         bank and dma cycles an instruction added after its own cost (they follow it)
  dma    each DMA transfer, from the cycle its engine starts it to the cycle it ends

`to_chrome()` gives the JSON object of the trace-event format (one process per PE,
the threads `core` and `dma`; 1 cycle is shown as 1 µs), which Perfetto
(ui.perfetto.dev) and chrome://tracing open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TextIO

from .machine import TraceRecord

BEFORE = ("sync", "send", "recv")  # stall causes spent waiting to issue
AFTER = ("memory", "bank", "dma")  # stall causes an instruction adds after its cost


@dataclass
class Span:
    """[start, end) in cycles on one PE's track."""

    pe: tuple[int, int]
    track: str  # "core" | "dma"
    kind: str  # "busy" | "stall" | "dma"
    name: str  # "busy", "stall: recv", "dma GM->LM", or an instruction (detail=True)
    start: int
    end: int
    args: dict[str, Any] = field(default_factory=dict)


class Timeline:
    """Collects spans from trace records (a trace callback: `machine.run(trace=tl)`)."""

    def __init__(self, rows: int, cols: int, *, detail: bool = False,
                 region_of: Any = None) -> None:
        self.rows, self.cols, self.detail = rows, cols, detail
        self.region_of = region_of  # addr -> "lm" | "sm" | "gm" | None, for DMA names
        self.spans: list[Span] = []
        self._busy: dict[tuple[int, int], Span] = {}  # the open busy span per PE
        self.end = 0  # the last cycle any span reaches

    @classmethod
    def for_machine(cls, machine: Any, *, detail: bool = False) -> Timeline:
        return cls(machine.rows, machine.cols, detail=detail, region_of=machine.region_of)

    def __call__(self, rec: TraceRecord) -> None:
        pe = tuple(rec.pe)
        t = rec.cycle
        for cause in BEFORE:
            n = rec.stalls.get(cause, 0)
            if n:
                self._add(Span(pe, "core", "stall", f"stall: {cause}", t - n, t,
                               {"cause": cause, "cycles": n, "pc": rec.pc}))
        after = sum(rec.stalls.get(c, 0) for c in AFTER)
        base = max(rec.busy - after, 0)
        self._add_busy(pe, t, t + base, rec)
        t += base
        for cause in AFTER:
            n = rec.stalls.get(cause, 0)
            if n:
                self._add(Span(pe, "core", "stall", f"stall: {cause}", t, t + n,
                               {"cause": cause, "cycles": n, "pc": rec.pc}))
                t += n
        d = rec.dma
        if d is not None and d.start is not None and d.end is not None:
            name = "dma"
            if self.region_of:
                src, dst = self.region_of(d.src), self.region_of(d.dst)
                name = f"dma {(src or '?').upper()}->{(dst or '?').upper()}"
            self._add(Span(pe, "dma", "dma", name, d.start, d.end,
                           {"dst": hex(d.dst), "src": hex(d.src), "rows": d.rows,
                            "row_bytes": d.row_bytes, "words": d.words, "issued": rec.cycle,
                            "pc": rec.pc}))

    def _add(self, span: Span) -> None:
        if span.track == "core":
            self._busy.pop(span.pe, None)  # a stall ends the run of busy cycles
        self.spans.append(span)
        self.end = max(self.end, span.end)

    def _add_busy(self, pe: tuple[int, int], start: int, end: int, rec: TraceRecord) -> None:
        if end <= start:
            return
        if self.detail:
            from pearray.asm.disasm import format_word

            self._add(Span(pe, "core", "busy", format_word(rec.word, rec.pc), start, end,
                           {"pc": rec.pc, "cycle": rec.cycle}))
            return
        open_ = self._busy.get(pe)
        if open_ is not None and open_.end == start:
            open_.end = end
            open_.args["instructions"] += 1
            self.end = max(self.end, end)
            return
        span = Span(pe, "core", "busy", "busy", start, end, {"instructions": 1, "pc": rec.pc})
        self._add(span)
        self._busy[pe] = span

    def totals(self) -> dict[tuple[int, int], dict[str, int]]:
        """Cycles per PE by span name ("busy", "stall: recv", ..., "dma ..."): what the
        picture shows, as numbers (a check against the run's counters)."""
        out: dict[tuple[int, int], dict[str, int]] = {}
        for s in self.spans:
            per = out.setdefault(s.pe, {})
            per[s.name if s.kind != "busy" else "busy"] = (
                per.get(s.name if s.kind != "busy" else "busy", 0) + s.end - s.start)
        return out

    def to_chrome(self) -> dict[str, Any]:
        """The trace-event JSON object: metadata naming a process per PE (sorted by id)
        with threads `core` (tid 0) and `dma` (tid 1), then one complete event ("X") per
        span; ts and dur are cycles (shown as µs)."""
        events: list[dict[str, Any]] = []
        pes = sorted({s.pe for s in self.spans})
        for r, c in pes:
            pid = r * self.cols + c
            events += [
                {"ph": "M", "name": "process_name", "pid": pid, "args": {"name": f"PE ({r},{c})"}},
                {"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": pid}},
                {"ph": "M", "name": "thread_name", "pid": pid, "tid": 0, "args": {"name": "core"}},
                {"ph": "M", "name": "thread_name", "pid": pid, "tid": 1, "args": {"name": "dma"}},
            ]
        for s in sorted(self.spans, key=lambda s: (s.pe, s.track, s.start)):
            events.append({
                "ph": "X", "name": s.name, "cat": s.kind, "pid": s.pe[0] * self.cols + s.pe[1],
                "tid": 0 if s.track == "core" else 1, "ts": s.start, "dur": s.end - s.start,
                "args": s.args,
            })
        return {"traceEvents": events, "displayTimeUnit": "ns",
                "otherData": {"generator": "pearray", "time_unit": "1 us = 1 cycle",
                              "rows": self.rows, "cols": self.cols, "cycles": self.end}}

    def dump(self, fh: TextIO) -> None:
        """Write the trace-event JSON to an open text file."""
        json.dump(self.to_chrome(), fh, separators=(",", ":"))
        fh.write("\n")
