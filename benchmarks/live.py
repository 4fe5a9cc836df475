"""Live presenting: how long a presenter's move takes to reach 1, 20 and 100 followers, and what it costs the server.

Serves the dashboard (``streamlit run dashboard/app.py``, headless, on a folder store of its own) and
connects N simulated followers to the audience link. A follower is a raw Streamlit session: a websocket
client (``websockets``) that speaks the browser's protocol (Streamlit's protobuf messages), opens the page,
and does what the browser would for any fragment with ``run_every`` the page has (asks for its rerun every
interval the server gave it, while no run is going on; the follower's page has none since the server wakes
it). So the server does exactly the work it does for a browser follower (every rerun, every message it
sends), and no browser competes with it for the CPU. The presenter's moves are made as the presenter's
server makes them, with the key, straight to the store (:meth:`aifunding.store.live.LiveStore.publish`):
the filter flips between Japan and Korea on the Companies page every ``--every`` seconds; the presenter's
own page rerun, the same for any audience, is left out. With ``--fresh`` every move is to a country nobody has
opened yet, so each one's view and charts are built while the followers wait (what sessions asking for one
view at once share is then the build itself; a pair's per-programme charts may have been built for its
countries' moves before); the package is the one ``AIFUNDING_DATA`` names, the bundled one by default.

A follower has *seen* a move when the server sends it the new address (the page's rerun with the
presenter's view has begun); its page is *done* when that rerun finishes. Server CPU is the server
process's user + system time (``/proc/<pid>/stat``), per second while nobody moves, and per move.
Each size prints its figures and its ratio to the 1-follower baseline of the same run.

    python benchmarks/live.py                      # 1, 20 and 100 followers, 8 moves each
    python benchmarks/live.py --followers 1 5 --moves 4
    AIFUNDING_DATA=/tmp/awards-1000000 python benchmarks/live.py --followers 1 20 --moves 4 --fresh
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT / "lib"))

import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from aifunding.store.live import FolderLive  # noqa: E402

from serving import free_port, start_server, stop_server  # noqa: E402

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
VIEWS = ({"country": "JP"}, {"country": "KR"})
# With --fresh, each move (the first, which warms, included) to the next of these, for each audience size in turn.
# Countries of the bundled package and of benchmarks/generate.py's, then pairs of them.
FRESH = ("JP", "KR", "US", "GB", "CA", "IN", "FR", "EU", "SG", "JP,KR", "JP,US", "JP,GB", "US,GB", "KR,CA", "IN,FR")
# A follower whose page is not done this long after a move has missed it.
LIMIT_SECONDS = 60.0


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` now, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


@dataclass
class Follower:
    """One simulated browser on the audience link."""

    url: str
    query: str
    views: tuple[dict[str, str], ...] = VIEWS
    page_hash: str = ""
    running: bool = False
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    fragments: dict[str, float] = field(default_factory=dict)  # fragment id -> seconds between its reruns
    seen: dict[str, float] = field(default_factory=dict)  # country -> when the address with it arrived
    done: dict[str, float] = field(default_factory=dict)  # country -> when that rerun finished
    pending: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        async with websockets.connect(self.url, max_size=None, subprotocols=["streamlit"]) as socket:
            await self._rerun(socket, None)
            ticking = asyncio.create_task(self._tick(socket, stop))
            try:
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(socket.recv(), timeout=0.5)
                    except TimeoutError:
                        continue
                    self._receive(raw)
            finally:
                ticking.cancel()

    def _receive(self, raw: bytes) -> None:
        message = ForwardMsg()
        message.ParseFromString(raw)
        kind = message.WhichOneof("type")
        now = time.monotonic()
        if kind == "new_session":
            self.page_hash = message.new_session.page_script_hash
        elif kind == "navigation":
            self.page_hash = message.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = message.page_info_changed.query_string
            shown = urllib.parse.parse_qs(self.query).get("country", [""])[0]
            for view in self.views:
                country = view["country"]
                if shown == country and country not in self.seen:
                    self.seen[country] = now
                    self.pending = country
        elif kind == "session_status_changed":
            self.running = message.session_status_changed.script_is_running
        elif kind == "auto_rerun":
            self.fragments[message.auto_rerun.fragment_id] = message.auto_rerun.interval
        elif kind == "script_finished":
            self.running = False
            self.loaded.set()
            if self.pending is not None:
                self.done.setdefault(self.pending, now)
                self.pending = None

    async def _rerun(self, socket, fragment_id: str | None) -> None:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query
        state.page_script_hash = self.page_hash
        if not self.page_hash:
            state.page_name = "companies"
        if fragment_id:
            state.fragment_id = fragment_id
            state.is_auto_rerun = True
        self.running = True
        await socket.send(message.SerializeToString())

    async def _tick(self, socket, stop: asyncio.Event) -> None:
        """What the browser does for ``st.fragment(run_every=...)``: ask for the fragment's rerun each interval."""
        next_at: dict[str, float] = {}
        while not stop.is_set():
            await asyncio.sleep(0.05)
            now = time.monotonic()
            for fragment_id, interval in list(self.fragments.items()):
                due = next_at.setdefault(fragment_id, now + interval)
                if now >= due:
                    next_at[fragment_id] = now + interval
                    if not self.running:
                        await self._rerun(socket, fragment_id)

    def reset(self) -> None:
        self.seen.clear()
        self.done.clear()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Result:
    followers: int
    seen: list[float]
    done: list[float]
    missed: int
    idle_cpu: float  # CPU seconds per second with nobody moving
    move_cpu: float  # CPU seconds per move (above the idle rate)
    rss: float  # the server's resident memory after the last move, MB


async def measure(
    port: int, pid: int, store: FolderLive, count: int, moves: int, every: float, views: tuple[dict[str, str], ...]
) -> Result:
    live_id, key = store.begin({"page": "companies", "params": {}})
    url = f"ws://127.0.0.1:{port}/_stcore/stream"
    followers = [Follower(url, f"live={live_id}", views) for _ in range(count)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(f.run(stop)) for f in followers]
    try:
        for f in followers:
            await asyncio.wait_for(f.loaded.wait(), timeout=300)
        await asyncio.sleep(3)  # every page settled
        before, started = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(5)
        idle_cpu = (cpu_seconds(pid) - before) / (time.monotonic() - started)
        seen: list[float] = []
        done: list[float] = []
        missed = 0
        before, started = cpu_seconds(pid), time.monotonic()
        for n in range(moves + 1):  # the first move warms the view; it is not counted
            view = views[n % len(views)]
            for f in followers:
                f.reset()
            moved_at = time.monotonic()
            store.publish(live_id, key, {"page": "companies", "params": view})
            # Until every follower's page is done (or the limit), then the pause before the next move.
            while time.monotonic() - moved_at < LIMIT_SECONDS and not all(view["country"] in f.done for f in followers):
                await asyncio.sleep(0.05)
            await asyncio.sleep(every)
            if n == 0:
                before, started = cpu_seconds(pid), time.monotonic()
                continue
            for f in followers:
                country = view["country"]
                if country in f.seen and country in f.done:
                    seen.append(f.seen[country] - moved_at)
                    done.append(f.done[country] - moved_at)
                else:
                    missed += 1
        elapsed = time.monotonic() - started
        move_cpu = max(0.0, (cpu_seconds(pid) - before) - idle_cpu * elapsed) / moves
        return Result(count, seen, done, missed, idle_cpu, move_cpu, rss_mb(pid))
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        store.end(live_id, key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--followers", type=int, nargs="+", default=[1, 20, 100])
    parser.add_argument("--moves", type=int, default=8)
    parser.add_argument("--every", type=float, default=2.0, help="seconds of pause after every follower has the move")
    parser.add_argument("--fresh", action="store_true", help="every move to a view nobody has opened yet")
    args = parser.parse_args()
    if args.fresh and (args.moves + 1) * len(args.followers) > len(FRESH):
        parser.error(f"--fresh has {len(FRESH)} countries: (moves + 1) x audience sizes must not be more")
    folder = Path(tempfile.mkdtemp(prefix="aifunding-live-bench-"))
    env = {"AIFUNDING_STORE": str(folder), "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), str(ROOT / "dashboard")])}
    port = free_port()
    server = start_server(ROOT / "dashboard" / "app.py", port, folder / "server.log", env)
    store = FolderLive(folder / "live")
    results = []
    try:
        for number, count in enumerate(args.followers):
            views = VIEWS
            if args.fresh:
                first = number * (args.moves + 1)
                views = tuple({"country": code} for code in FRESH[first : first + args.moves + 1])
            results.append(asyncio.run(measure(port, server.pid, store, count, args.moves, args.every, views)))
    finally:
        stop_server(server)
    base = results[0]
    print(
        f"Live following on the Companies page, {args.moves} moves"
        f"{' each to a view nobody had opened' if args.fresh else ''} (one server, folder store, "
        f"{os.cpu_count()} CPUs):"
    )
    print(
        f"  {'followers':>9}  {'seen p50':>8}  {'p95':>6}  {'done p50':>8}  {'p95':>6}  {'missed':>6}"
        f"  {'idle CPU s/s':>12}  {'CPU s/move':>10}  {'RSS MB':>6}"
        f"  ratios to {base.followers} follower(s): done p95, idle, move"
    )
    for r in results:
        if not r.done:
            print(f"  {r.followers:>9}  every follower missed every move")
            continue
        seen50, seen95 = statistics.median(r.seen), percentile(r.seen, 0.95)
        done50, done95 = statistics.median(r.done), percentile(r.done, 0.95)
        base95 = percentile(base.done, 0.95)
        print(
            f"  {r.followers:>9}  {seen50:>7.2f}s  {seen95:>5.2f}s  {done50:>7.2f}s  {done95:>5.2f}s  {r.missed:>6}"
            f"  {r.idle_cpu:>12.3f}  {r.move_cpu:>10.3f}  {r.rss:>6.0f}"
            f"  {done95 / base95:.1f}x, {r.idle_cpu / max(base.idle_cpu, 1e-3):.1f}x,"
            f" {r.move_cpu / max(base.move_cpu, 1e-3):.1f}x"
        )


if __name__ == "__main__":
    main()
